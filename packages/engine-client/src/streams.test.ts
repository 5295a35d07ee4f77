import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { demultiplex, encodeFrame, jsonMessages } from './streams.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('engine streams', () => {
  it('splits JSON messages across arbitrary chunk boundaries', async () => {
    const text =
      '{"status":"a"}\r\n{"status":"b","progressDetail":{"current":1}}\r\n{"status":"c"}';
    const chunks = text.match(/.{1,5}/gs)?.map((s) => Buffer.from(s)) ?? [];
    const messages = await collect(jsonMessages(Readable.from(chunks)));
    assert.deepEqual(messages, [
      { status: 'a' },
      { status: 'b', progressDetail: { current: 1 } },
      { status: 'c' },
    ]);
  });

  it('demultiplexes stdout/stderr frames split mid-header and mid-payload', async () => {
    const wire = Buffer.concat([
      encodeFrame('stdout', Buffer.from('hello\n')),
      encodeFrame('stderr', Buffer.from('oops\n')),
      encodeFrame('stdout', Buffer.alloc(0)),
    ]);
    const chunks = [wire.subarray(0, 3), wire.subarray(3, 10), wire.subarray(10)];
    const frames = await collect(demultiplex(Readable.from(chunks)));
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        ['stdout', 'hello\n'],
        ['stderr', 'oops\n'],
        ['stdout', ''],
      ],
    );
  });
});
