/**
 * /info and /system/df once containers exist: counts by state, per-image container counts,
 * container sizes and the per-type usage summaries, against berthd with real runc containers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ENGINE_TEST_TOOLS, startEngineEnv, type EngineEnv } from '../../testing/engine-env.js';
import { socketRequest } from '../../testing/socket-http.js';
import { skipUnless } from '../../testing/tools.js';

const dfSchema = z.object({
  Images: z.array(z.object({ Id: z.string(), Containers: z.number(), Size: z.number() })),
  Containers: z.array(
    z.object({ Id: z.string(), State: z.string(), SizeRw: z.number(), SizeRootFs: z.number() }),
  ),
  ImageUsage: z.object({ ActiveCount: z.number(), TotalCount: z.number() }),
  ContainerUsage: z.object({ ActiveCount: z.number(), TotalCount: z.number() }),
});

describe(
  'system endpoints with containers',
  { skip: skipUnless([...ENGINE_TEST_TOOLS, 'runc']) },
  () => {
    let env: EngineEnv;
    const ids: string[] = [];
    before(async () => {
      env = await startEngineEnv();
      const ref = env.images.busybox.ref;
      await env.dockerOk(['pull', '-q', ref]);
      ids.push((await env.dockerOk(['run', '-d', ref, 'sleep', '60'])).stdout.trim());
      ids.push((await env.dockerOk(['create', ref, 'true'])).stdout.trim());
    });
    after(async () => {
      if (env && ids.length) await env.docker(['rm', '-f', ...ids]);
      await env?.stop();
    });

    it('counts containers by state in /info', async () => {
      const info = z
        .object({
          Containers: z.number(),
          ContainersRunning: z.number(),
          ContainersPaused: z.number(),
          ContainersStopped: z.number(),
        })
        .parse(JSON.parse((await socketRequest(env.berthd.socket, '/info')).body));
      assert.deepEqual(info, {
        Containers: 2,
        ContainersRunning: 1,
        ContainersPaused: 0,
        ContainersStopped: 1,
      });
    });

    it('reports containers, their image and sizes in /system/df', async () => {
      const df = dfSchema.parse(
        JSON.parse((await socketRequest(env.berthd.socket, '/v1.41/system/df')).body),
      );
      assert.deepEqual(df.Containers.map((c) => c.Id).sort(), [...ids].sort());
      const image = df.Images[0];
      assert.equal(image?.Containers, 2);
      for (const c of df.Containers) assert.ok(c.SizeRootFs >= (image?.Size ?? 0));
      assert.deepEqual(df.ImageUsage, { ...df.ImageUsage, ActiveCount: 1, TotalCount: 1 });
      assert.deepEqual(df.ContainerUsage, { ...df.ContainerUsage, ActiveCount: 1, TotalCount: 2 });
      const cli = await env.dockerOk(['system', 'df']);
      assert.match(cli.stdout, /^Containers\s+2\s+1\s/m);
    });
  },
);
