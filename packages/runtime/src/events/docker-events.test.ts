/**
 * `docker events` against berthd with real image operations: a live subscriber sees the tag
 * made while it listens, and `--since/--until` replays what happened, with filters.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startBerthd, type Berthd } from '../testing/berthd.js';
import { docker, dockerBinary } from '../testing/docker-cli.js';
import { ENGINE_TEST_TOOLS } from '../testing/engine-env.js';
import { stopChild, tempDir, trackDaemon, waitFor } from '../testing/process.js';
import { startRegistry, type Registry } from '../testing/registry.js';
import { socketRequest } from '../testing/socket-http.js';
import { pushTestImage, type PushedImage } from '../testing/test-images.js';
import { skipUnless } from '../testing/tools.js';

interface CliEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

const lines = (out: string): CliEvent[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as CliEvent);

describe('docker events against berthd', { skip: skipUnless(ENGINE_TEST_TOOLS) }, () => {
  let registry: Registry;
  let image: PushedImage;
  let engine: Berthd;
  const started = Math.floor(Date.now() / 1000) - 1;
  const cli = (args: string[]) => docker(args, { host: engine.dockerHost, timeoutMs: 60_000 });

  before(async () => {
    registry = await startRegistry();
    image = await pushTestImage(registry.host, 'busybox');
    engine = await startBerthd();
    const pull = await cli(['pull', '-q', image.ref]);
    assert.equal(pull.code, 0, pull.stderr);
  });
  after(async () => {
    await engine?.stop();
    await registry?.stop();
  });

  it('a live subscriber sees a tag made while it listens', async () => {
    const bin = dockerBinary();
    assert.ok(bin);
    const listeners = async () =>
      (
        JSON.parse((await socketRequest(engine.socket, '/info')).body) as {
          NEventsListener: number;
        }
      ).NEventsListener;
    // The engine's own listeners on its bus do not count: only API subscribers do.
    assert.equal(await listeners(), 0);
    const config = tempDir('docker-config');
    const child = spawn(
      bin,
      ['events', '--filter', 'type=image', '--filter', 'event=tag', '--format', '{{json .}}'],
      {
        env: { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_CONFIG: config.path },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    trackDaemon(child);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      // The engine counts its event subscribers; wait until the CLI is one of them.
      await waitFor('docker events to subscribe', async () => (await listeners()) > 0);
      const tag = await cli(['tag', image.ref, 'events-test:live']);
      assert.equal(tag.code, 0, tag.stderr);
      await waitFor('the tag event', () => Promise.resolve(lines(out).length > 0), {
        timeoutMs: 30_000,
        giveUp: () => (child.exitCode === null ? undefined : `docker events exited: ${out}`),
      }).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; docker events printed: ${JSON.stringify(out)}`);
      });
      const [ev] = lines(out);
      assert.equal(ev?.Type, 'image');
      assert.equal(ev?.Action, 'tag');
      assert.equal(ev?.Actor.Attributes.name, 'events-test:live');
    } finally {
      await stopChild(child, 'SIGINT');
      config.remove();
    }
  });

  it('--since/--until replays the pull and the tag, and filters them', async () => {
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const all = await cli([
      'events',
      '--since',
      String(started),
      '--until',
      until,
      '--format',
      '{{json .}}',
    ]);
    assert.equal(all.code, 0, all.stderr);
    const actions = lines(all.stdout).map((e) => e.Action);
    assert.ok(actions.includes('pull'), actions.join());
    assert.ok(actions.includes('tag'), actions.join());

    const pulls = await cli([
      'events',
      '--since',
      String(started),
      '--until',
      until,
      '--filter',
      'event=pull',
      '--format',
      '{{.Action}} {{.Actor.ID}}',
    ]);
    assert.equal(pulls.code, 0, pulls.stderr);
    assert.deepEqual(pulls.stdout.trim().split('\n'), [`pull ${image.ref}`]);
  });
});
