/**
 * Managing many containers in the dashboard against a real berthd: compose projects grouped
 * under their name, search and the state filter, pause and resume, restart, and bulk stop and
 * remove of a selection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContainersPage } from '../pages/containers.js';
import { e2eSkip, startStack, type Stack } from '../support/stack.js';

const PROJECT = 'shop';
// Two services of a compose project and one standalone container, all long-running.
const CONTAINERS = [
  { name: 'shop-web-1', labels: [`com.docker.compose.project=${PROJECT}`] },
  { name: 'shop-db-1', labels: [`com.docker.compose.project=${PROJECT}`] },
  { name: 'lonely', labels: [] },
];

describe('e2e: managing containers', { skip: e2eSkip(), timeout: 300_000 }, () => {
  let stack: Stack;
  let page: ContainersPage;
  let ready = false;
  before(async () => {
    stack = await startStack();
    page = new ContainersPage(stack.page);
    await page.waitEngineRunning();
  });
  after(() => stack?.close());

  it('groups compose projects under their name', async (t) => {
    const ps = await stack.env.docker(['ps']);
    if (ps.code !== 0) return t.skip(`the engine cannot list containers yet: ${ps.stderr.trim()}`);
    const { ref } = stack.env.images.busybox;
    await stack.env.dockerOk(['pull', ref]);
    for (const c of CONTAINERS) {
      const labels = c.labels.flatMap((l) => ['--label', l]);
      await stack.env.dockerOk(['run', '-d', '--name', c.name, ...labels, ref, 'sleep', '600']);
    }
    await stack.env.dockerOk([
      'create',
      '--name',
      'shop-job-1',
      '--label',
      `com.docker.compose.project=${PROJECT}`,
      ref,
      'true',
    ]);
    const group = page.group(PROJECT);
    await group.getByText('compose · 2 running of 3').waitFor();
    for (const n of ['shop-web-1', 'shop-db-1', 'shop-job-1'])
      await group.getByRole('link', { name: n }).waitFor();
    assert.equal(await group.getByRole('link', { name: 'lonely' }).count(), 0);
    await page.row('lonely').waitFor();
    await stack.screenshot('containers-grouped');
    ready = true;
  });

  it('searches by name and filters by state', async (t) => {
    if (!ready) return t.skip('no containers');
    // Searches match IDs too: a term of hex letters only (like "db") could match one.
    await page.search('shop-d');
    await page.row('shop-web-1').waitFor({ state: 'detached' });
    assert.deepEqual(await page.rows.getByRole('link').allTextContents(), ['shop-db-1']);
    await page.search('');
    await page.filterState('Stopped');
    await page.row('lonely').waitFor({ state: 'detached' });
    assert.deepEqual(await page.rows.getByRole('link').allTextContents(), ['shop-job-1']);
    await page.search('nothing-like-this');
    await stack.page.getByText('No container matches the search and filter.').waitFor();
    await page.search('');
    await page.filterState('All states');
    await page.row('lonely').waitFor();
  });

  it('pauses, resumes and restarts a container from its row', async (t) => {
    if (!ready) return t.skip('no containers');
    await page.act('Pause', 'lonely');
    await page.row('lonely').getByText('paused', { exact: true }).waitFor({ timeout: 30_000 });
    const state = await stack.env.dockerOk(['inspect', '-f', '{{.State.Status}}', 'lonely']);
    assert.equal(state.stdout.trim(), 'paused');
    await page.filterState('Paused');
    await page.row('lonely').waitFor();
    await stack.screenshot('containers-paused');
    await page.act('Resume', 'lonely');
    await page.row('lonely').waitFor({ state: 'detached', timeout: 30_000 });
    await page.filterState('All states');
    await page.row('lonely').getByText('running', { exact: true }).waitFor();
    const before = await stack.env.dockerOk(['inspect', '-f', '{{.State.StartedAt}}', 'lonely']);
    await page.act('Restart', 'lonely');
    for (let i = 0; i < 100; i++) {
      const now = await stack.env.dockerOk(['inspect', '-f', '{{.State.StartedAt}}', 'lonely']);
      if (now.stdout !== before.stdout) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const after = await stack.env.dockerOk(['inspect', '-f', '{{.State.StartedAt}}', 'lonely']);
    assert.notEqual(after.stdout, before.stdout, 'Restart starts the container again');
  });

  it('stops and removes a selection in bulk', async (t) => {
    if (!ready) return t.skip('no containers');
    await page.select('shop-web-1');
    await page.select('shop-db-1');
    await page.bulkBar.getByText('2 selected').waitFor();
    await stack.screenshot('containers-bulk');
    await page.bulkBar.getByRole('button', { name: 'Stop selected' }).click();
    await page.row('shop-web-1').getByText('exited', { exact: true }).waitFor({ timeout: 60_000 });
    await page.row('shop-db-1').getByText('exited', { exact: true }).waitFor({ timeout: 60_000 });
    await stack.page.getByRole('checkbox', { name: `Select project ${PROJECT}` }).check();
    await page.bulkBar.getByText('3 selected').waitFor();
    await page.bulkBar.getByRole('button', { name: 'Remove selected' }).click();
    await page.group(PROJECT).waitFor({ state: 'detached', timeout: 60_000 });
    const left = await stack.env.dockerOk(['ps', '-a', '--format', '{{.Names}}']);
    assert.deepEqual(left.stdout.trim().split('\n'), ['lonely']);
  });
});
