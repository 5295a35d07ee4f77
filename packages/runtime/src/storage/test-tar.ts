/**
 * Crafted tar archives for the storage tests: any entry tar-stream can describe, including
 * hostile names, plus raw pax headers with binary values (which tar-stream cannot write).
 */
import { pack } from 'tar-stream';
import type { Header } from 'tar-stream';

export type Spec = Partial<Header> & { name: string; body?: string | Buffer };

/** A pax extended header carrying `records` raw (binary values), for the entry after it. */
export function paxHeader(records: Record<string, Buffer | string>): Spec {
  const parts = Object.entries(records).map(([k, v]) => {
    const payload = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let len = payload.length + 1;
    while (String(len).length + payload.length !== len) len++;
    return Buffer.concat([Buffer.from(String(len)), payload]);
  });
  const body = Buffer.concat(parts);
  return { name: 'PaxHeaders/x', type: 'pax-header' as Header['type'], size: body.length, body };
}

/** One entry as tar bytes, without the end-of-archive blocks. */
async function entryBytes({ body, ...header }: Spec): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  const type = header.type ?? 'file';
  // tar-stream writes no raw pax headers: write a file entry and retype it below.
  const isPax = type === ('pax-header' as Header['type']);
  const defaults = {
    mode: type === 'directory' ? 0o755 : 0o644,
    mtime: new Date(1_600_000_000_000),
  };
  const h = { ...defaults, ...header, type: isPax ? ('file' as const) : type };
  if (body === undefined) p.entry(h);
  else p.entry(h, body);
  p.finalize();
  await collecting;
  const bytes = Buffer.concat(chunks);
  const entry = bytes.subarray(0, bytes.length - 1024);
  if (isPax) {
    entry[156] = 0x78; // 'x'
    entry.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of entry.subarray(0, 512)) sum += b;
    entry.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  return entry;
}

export async function makeTar(specs: Spec[]): Promise<Buffer> {
  const parts = await Promise.all(specs.map(entryBytes));
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}
