/**
 * Monitoring endpoints: GET /containers/{id}/stats (one sample, or a sample per second while
 * the client stays and the container runs) and GET /containers/{id}/top.
 */
import type { ContainerService } from '../../containers/service.js';
import { sampleStats, type StatsJson } from '../../containers/stats.js';
import { containerTop } from '../../containers/top.js';
import type { Engine } from '../../engine.js';
import { queryBool, sendJson } from '../http.js';
import type { Router } from '../router.js';

const INTERVAL_MS = 1_000;

export function registerStatsRoutes(
  router: Router,
  engine: Engine,
  containers: ContainerService,
): void {
  router.get('/containers/{id}/stats', async ({ req, res, params, query }) => {
    const id = containers.get(params.id ?? '').id;
    const stream = queryBool(query, 'stream', true);
    const oneShot = queryBool(query, 'one-shot');
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    if (!stream) {
      // moby primes precpu with a first sample unless one-shot, so the CPU % means something.
      let sample = await sampleStats(containers.get(id));
      if (!oneShot && containers.get(id).running) {
        await sleep(INTERVAL_MS);
        sample = await sampleStats(containers.get(id), sample);
      }
      sendJson(res, 200, sample);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let closed = false;
    const stop = () => {
      closed = true;
    };
    req.socket.once('close', stop);
    engine.shutdown?.addEventListener('abort', stop, { once: true });
    let previous: StatsJson | undefined;
    try {
      for (;;) {
        const view = containers.get(id);
        const sample = await sampleStats(view, previous);
        if (closed) break;
        res.write(`${JSON.stringify(sample)}\n`);
        if (!view.running) break;
        previous = sample;
        await sleep(INTERVAL_MS);
        if (closed) break;
      }
    } catch {
      // removed meanwhile: the stream just ends
    } finally {
      req.socket.off('close', stop);
      engine.shutdown?.removeEventListener('abort', stop);
      res.end();
    }
  });

  router.get('/containers/{id}/top', async ({ res, params, query }) => {
    const view = containers.get(params.id ?? '');
    sendJson(res, 200, await containerTop(view, query.get('ps_args') ?? '-ef'));
  });
}
