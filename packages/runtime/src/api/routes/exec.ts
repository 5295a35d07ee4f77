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
      const exec = execs.claim(params.id ?? '');
      const up = await hijack(req, res, exec.config.Tty ? RAW_STREAM : MULTIPLEXED_STREAM);
      await execs.run(exec, up.conn, parseStartBody(up.body).ConsoleSize);
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
    const { conn } = await hijack(req, res, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
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

function parseStartBody(raw: Buffer): z.infer<typeof execStartSchema> {
  if (raw.length === 0) return {};
  try {
    return execStartSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch {
    return {};
  }
}
