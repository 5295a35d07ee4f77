import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berth, describeRun } from './testing.js';

describe('berth CLI without a machine', { timeout: 120_000 }, () => {
  let home: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    env = { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: join(home, '.docker') };
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it('prints usage and exits 2 on an unknown command', async () => {
    const r = await berth(['frobnicate'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.match(r.stderr, /Usage: berth/);
  });

  it('says the engine is not running, with a non-zero exit, for docker verbs', async () => {
    const r = await berth(['ps'], { env });
    assert.equal(r.code, 1, describeRun(['ps'], r));
    const sock = join(home, '.berth', 'run', 'docker.sock');
    assert.equal(
      r.stderr,
      `Cannot connect to the Berth engine at unix://${sock}. Is the engine running? Try: berth machine start\n`,
    );
  });

  it('reports a machine that does not exist', async () => {
    const status = await berth(['machine', 'status'], { env });
    assert.equal(status.code, 2);
    assert.match(status.stdout, /State: +absent/);
    const start = await berth(['machine', 'start'], { env });
    assert.equal(start.code, 1);
    assert.match(start.stderr, /does not exist; run: berth machine init/);
  });

  it('takes everything after machine ssh options as the guest command, its options too', async () => {
    const r = await berth(['machine', 'ssh', '--name', 'nope', 'uname', '-m'], { env });
    assert.equal(r.code, 1, describeRun(['machine', 'ssh'], r));
    assert.doesNotMatch(r.stderr, /Unknown option/);
    assert.match(r.stderr, /"nope"/);
  });

  it('refuses a machine whose guest image is missing, leaving nothing behind', async () => {
    const r = await berth(['machine', 'init', '--image', join(home, 'no-image'), '--no-share'], {
      env,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /guest image file missing|not found/);
    assert.equal(existsSync(join(home, '.berth', 'machines', 'default')), false);
  });

  it('prints bash and zsh completion that the shells accept', async () => {
    const bash = await berth(['completion', 'bash'], { env });
    assert.equal(bash.code, 0);
    assert.match(bash.stdout, /complete -F _berth berth/);
    const file = join(home, 'completion.bash');
    writeFileSync(file, bash.stdout);
    const check = spawnSync('bash', ['-n', file], { timeout: 10_000 });
    assert.equal(check.status, 0, check.stderr?.toString());
    // Complete `berth machine st`.
    const words = spawnSync(
      'bash',
      [
        '-c',
        `source ${file}; COMP_WORDS=(berth machine st); COMP_CWORD=2; _berth; echo "\${COMPREPLY[@]}"`,
      ],
      { timeout: 10_000, encoding: 'utf8' },
    );
    assert.equal(words.stdout.trim(), 'start stop status');
    const zsh = await berth(['completion', 'zsh'], { env });
    assert.match(zsh.stdout, /^#compdef berth/);
    assert.equal((await berth(['completion', 'fish'], { env })).code, 1);
  });

  it(
    'creates and uses a docker context named berth on the host socket',
    { skip: !existsSync('/usr/bin/docker') && 'no docker CLI' },
    async () => {
      const r = await berth(['context', 'use'], { env });
      assert.equal(r.code, 0, describeRun(['context', 'use'], r));
      const sock = `unix://${join(home, '.berth', 'run', 'docker.sock')}`;
      const inspect = spawnSync(
        'docker',
        ['context', 'inspect', 'berth', '--format', '{{.Endpoints.docker.Host}}'],
        {
          env,
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
      assert.equal(inspect.stdout.trim(), sock);
      const current = spawnSync('docker', ['context', 'show'], {
        env,
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(current.stdout.trim(), 'berth');
      // Idempotent.
      assert.equal((await berth(['context'], { env })).code, 0);
    },
  );
});
