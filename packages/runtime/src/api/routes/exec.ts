/**
 * The exec endpoints: create an exec instance in a running container, start it on a hijacked
 * connection (or detached), resize its TTY and inspect it. Refusals happen before the
 * connection is hijacked, so they reach the client as ordinary JSON errors.
 */
import { MULTIPLEXED_STREAM, RAW_STREAM } from '@berth/engine-client';
import { execCreateSchema, execStartSchema, ExecService } from '../../containers/exec.js';
import type { ContainerService } from '../../containers/service.js';
import type { Engine } from '../../engine.js';
import { InvalidParameterError } from '../errors.js';
import { hijack, wantsUpgrade } from '../hijack.js';
import { queryInt, readJson, sendEmpty, sendJson } from '../http.js';
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import type { Router } from '../router.js';

/** Registers the exec routes; returns the service (its idsOf() feeds a container's ExecIDs). */
export function registerExecRoutes(
  router: Router,
  engine: Engine,
  containers: ContainerService,
): ExecService {
  const execs = new ExecService(engine, containers);
  router.post('/containers/{id}/exec', async ({ req, res, params }) => {
    const body = await readJson(req, execCreateSchema);
    sendJson(res, 201, execs.create(params.id ?? '', body));
  });

  router.post('/exec/{id}/start', async ({ req, res, params }) => {
    if (wantsUpgrade(req)) {
      // An upgrade request's body is not parsed by Node: it arrives first on the connection.
      const exec = execs.claim(params.id ?? '');
      const conn = hijack(req, res, exec.config.Tty ? RAW_STREAM : MULTIPLEXED_STREAM);
      const length = Number(req.headers['content-length'] ?? 0);
      const body = parseStartBody(await takeBytes(conn, Number.isInteger(length) ? length : 0));
      await execs.run(exec, conn, body.ConsoleSize);
      return;
    }
    const body = await readJson(req, execStartSchema, { allowEmpty: true });
    const exec = execs.claim(params.id ?? '');
    if (body.Detach) {
      await execs.run(exec, undefined, body.ConsoleSize);
      sendEmpty(res, 200);
      return;
    }
    const tty = body.Tty ?? exec.config.Tty ?? false;
    const conn = hijack(req, res, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    await execs.run(exec, conn, body.ConsoleSize);
  });

  router.post('/exec/{id}/resize', ({ res, params, query }) => {
    const h = queryInt(query, 'h');
    const w = queryInt(query, 'w');
    if (h === undefined || w === undefined || h < 0 || w < 0) {
      throw new InvalidParameterError('invalid resize dimensions');
    }
    execs.resize(params.id ?? '', h, w);
    sendEmpty(res, 200);
  });

  router.get('/exec/{id}/json', ({ res, params }) => {
    sendJson(res, 200, execs.inspect(params.id ?? ''));
  });
  return execs;
}

const MAX_START_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;

function parseStartBody(raw: Buffer): z.infer<typeof execStartSchema> {
  if (raw.length === 0) return {};
  try {
    return execStartSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch {
    return {};
  }
}

/** Reads the first `n` bytes of a hijacked connection (bounded in size and time). */
async function takeBytes(conn: Duplex, n: number): Promise<Buffer> {
  const want = Math.min(Math.max(n, 0), MAX_START_BODY);
  const chunks: Buffer[] = [];
  let got = 0;
  const deadline = Date.now() + BODY_TIMEOUT_MS;
  while (got < want && Date.now() < deadline && !conn.readableEnded && !conn.destroyed) {
    const chunk = conn.read() as Buffer | null;
    if (chunk === null) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          conn.off('readable', done);
          conn.off('end', done);
          conn.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        conn.once('readable', done);
        conn.once('end', done);
        conn.once('close', done);
      });
      continue;
    }
    const take = Math.min(chunk.length, want - got);
    chunks.push(chunk.subarray(0, take));
    got += take;
    if (take < chunk.length) conn.unshift(chunk.subarray(take));
  }
  return Buffer.concat(chunks);
}
