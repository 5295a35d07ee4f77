import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BerthError,
  createClient,
  dispatch,
  eventFrame,
  runRequestSchema,
  type ClientFrame,
  type Handlers,
} from './contract.js';
import { dockerRunLine, splitCommand } from './docker-run.js';

class NotFoundError extends Error {
  override name = 'NotFoundError';
}

function fakeHandlers(overrides: Partial<Handlers>): Handlers {
  const missing = () => Promise.reject(new Error('not in this test'));
  return new Proxy(overrides, {
    get: (target, key: string) => (target as Record<string, unknown>)[key] ?? missing,
  }) as Handlers;
}

/** A client wired straight to dispatch(), as both transports do through their pipes. */
function loopback(handlers: Handlers) {
  const frames: ClientFrame[] = [];
  const client = createClient((frame) => {
    frames.push(frame);
    void dispatch(handlers, JSON.parse(JSON.stringify(frame))).then((reply) =>
      client.receive(JSON.parse(JSON.stringify(reply))),
    );
  });
  return { client, frames };
}

describe('contract', () => {
  it('a call crosses as a frame, params get their defaults, the result is validated', async () => {
    let seen: unknown;
    const { client, frames } = loopback(
      fakeHandlers({
        'images.remove': (p) => {
          seen = p;
          return Promise.resolve({ deleted: ['sha256:1'], untagged: [] });
        },
      }),
    );
    const result = await client.api.invoke('images.remove', { id: 'busybox' });
    assert.deepEqual(result, { deleted: ['sha256:1'], untagged: [] });
    assert.deepEqual(seen, { id: 'busybox', force: false });
    assert.equal(frames[0]?.method, 'images.remove');
  });

  it('errors cross as {name, message} and are rebuilt with the same name and text', async () => {
    const { client } = loopback(
      fakeHandlers({
        'containers.inspect': () => Promise.reject(new NotFoundError('No such container: nope')),
      }),
    );
    await assert.rejects(client.api.invoke('containers.inspect', { id: 'nope' }), (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.name, 'NotFoundError');
      assert.equal(e.message, 'No such container: nope');
      return true;
    });
  });

  it('refuses bad params and unknown methods before any handler runs', async () => {
    const reply = await dispatch(fakeHandlers({}), {
      type: 'call',
      id: 7,
      method: 'images.pull',
      params: { ref: '' },
    });
    assert.equal(reply.type, 'error');
    assert.equal(reply.type === 'error' && reply.error.name, 'InvalidParameterError');
    const unknown = await dispatch(fakeHandlers({}), { type: 'call', id: 8, method: 'rm -rf' });
    assert.equal(unknown.type === 'error' && unknown.error.name, 'NotFoundError');
  });

  it('events reach their listeners, validated, until unsubscribed', () => {
    const { client } = loopback(fakeHandlers({}));
    const got: unknown[] = [];
    const off = client.api.on('images.pullProgress', (p) => got.push(p));
    const progress = {
      pullId: 'p1',
      layer: 'abcdefabcdef',
      status: 'Downloading',
      current: 5,
      total: 10,
    };
    client.receive(eventFrame('images.pullProgress', progress));
    off();
    client.receive(eventFrame('images.pullProgress', progress));
    assert.deepEqual(got, [progress]);
    assert.throws(() => eventFrame('logs.end', {} as never));
  });
});

describe('docker run line', () => {
  it('shows name, ports, env and command, quoted for a shell', () => {
    assert.equal(
      dockerRunLine({
        image: 'nginx:alpine',
        name: 'web',
        ports: [
          { hostPort: 8080, containerPort: 80 },
          { hostPort: 0, containerPort: 53, protocol: 'udp' },
        ],
        env: ['GREETING=hello world'],
        command: ['sh', '-c', "echo it's"],
      }),
      `docker run -d --name web -p 8080:80 -p 53/udp -e 'GREETING=hello world' nginx:alpine sh -c 'echo it'\\''s'`,
    );
  });

  it('shows volumes and a restart policy; refuses a volume without a target path', () => {
    assert.equal(
      dockerRunLine({
        image: 'redis',
        volumes: ['data:/data', '/srv/conf:/etc/redis:ro'],
        restart: 'unless-stopped',
      }),
      'docker run -d -v data:/data -v /srv/conf:/etc/redis:ro --restart unless-stopped redis',
    );
    const parsed = runRequestSchema.parse({ image: 'redis' });
    assert.equal(parsed.restart, 'no');
    assert.deepEqual(parsed.volumes, []);
    assert.throws(
      () => runRequestSchema.parse({ image: 'redis', volumes: ['data'] }),
      /name:\/path/,
    );
  });

  it('splits a typed command as a shell would', () => {
    assert.deepEqual(splitCommand(`sh -c "echo \\"hi\\" there"  'a b' c\\ d`), [
      'sh',
      '-c',
      'echo "hi" there',
      'a b',
      'c d',
    ]);
    assert.deepEqual(splitCommand('  '), []);
  });
});
