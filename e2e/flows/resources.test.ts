/**
 * The dashboard's other screens against a real berthd and registry: image tag, push, history
 * and prune; volumes (size, used by, remove, prune); networks (list, inspect, remove);
 * settings saved to their file; troubleshoot (engine log, restart refused for an engine Berth
 * does not manage, reset to defaults after a confirmation).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ImagesPage, ImageToolsPage } from '../pages/images.js';
import { NetworksPage, SettingsPage, TroubleshootPage, VolumesPage } from '../pages/resources.js';
import { e2eSkip, startStack, type Stack } from '../support/stack.js';

describe(
  'e2e: images, volumes, networks, settings, troubleshoot',
  { skip: e2eSkip(), timeout: 300_000 },
  () => {
    let stack: Stack;
    let containersWork = false;
    before(async () => {
      stack = await startStack();
      await new ImagesPage(stack.page).waitEngineRunning();
      containersWork = (await stack.env.docker(['ps'])).code === 0;
    });
    after(() => stack?.close());

    it('tags an image, pushes it to the registry and shows its history', async () => {
      const { ref } = stack.env.images.busybox;
      await stack.env.dockerOk(['pull', ref]);
      const images = new ImagesPage(stack.page);
      await images.show();
      await images.row(ref).waitFor();
      const tools = new ImageToolsPage(stack.page);
      const pushed = `${stack.env.registry.host}/e2e/pushed:1.0`;
      await tools.tag(ref, pushed);
      await images.row(pushed).waitFor();
      const dialog = await tools.push(ref, pushed);
      await dialog.getByRole('status').getByText(`Pushed ${pushed}.`).waitFor({ timeout: 60_000 });
      await stack.screenshot('image-push');
      await dialog.getByRole('button', { name: 'Close', exact: true }).last().click();
      const tags = (await fetch(`http://${stack.env.registry.host}/v2/e2e/pushed/tags/list`).then(
        (r) => r.json(),
      )) as { tags?: string[] };
      assert.deepEqual(tags.tags, ['1.0']);
      const history = await tools.history(ref);
      await history.getByTestId('history-row').first().waitFor();
      assert.ok((await history.getByTestId('history-row').count()) >= 1);
      await stack.screenshot('image-history');
      await history.getByRole('button', { name: 'Close' }).click();
    });

    it('prunes unused images after a confirmation', async () => {
      const tools = new ImageToolsPage(stack.page);
      const images = new ImagesPage(stack.page);
      await tools.prune();
      await images.rows.first().waitFor({ state: 'detached', timeout: 30_000 });
      const left = await stack.env.dockerOk(['images', '-q']);
      assert.equal(left.stdout.trim(), '');
      await stack.page.getByRole('heading', { name: 'No images yet' }).waitFor();
    });

    it('lists volumes with who uses them, removes and prunes them', async (t) => {
      await stack.env.dockerOk(['volume', 'create', 'e2e-data']);
      await stack.env.dockerOk(['volume', 'create', 'e2e-spare']);
      const volumes = new VolumesPage(stack.page);
      await volumes.open('Volumes');
      await volumes.row('e2e-data').waitFor();
      if (containersWork) {
        const { ref } = stack.env.images.busybox;
        await stack.env.dockerOk([
          'run',
          '--name',
          'e2e-writer',
          '-v',
          'e2e-data:/data',
          ref,
          'sh',
          '-c',
          'head -c 200000 /dev/zero > /data/blob',
        ]);
        await volumes.row('e2e-data').getByText('e2e-writer').waitFor({ timeout: 15_000 });
      }
      await stack.screenshot('volumes');
      await volumes.remove('e2e-spare');
      await volumes.row('e2e-spare').waitFor({ state: 'detached' });
      if (!containersWork) return t.skip('the engine cannot run containers: prune not checked');
      await stack.env.dockerOk(['rm', 'e2e-writer']);
      await volumes.row('e2e-data').getByText('unused').waitFor({ timeout: 15_000 });
      await volumes.prune();
      await stack.page
        .getByRole('status')
        .getByText(/Removed 1 volume/)
        .waitFor();
      const left = await stack.env.dockerOk(['volume', 'ls', '-q']);
      assert.equal(left.stdout.trim(), '');
    });

    it('lists networks, inspects and removes one', async () => {
      await stack.env.dockerOk(['network', 'create', '--subnet', '10.231.0.0/24', 'e2e-net']);
      const networks = new NetworksPage(stack.page);
      await networks.open('Networks');
      await networks.row('e2e-net').getByText('10.231.0.0/24').waitFor();
      await networks.row('bridge').waitFor();
      await stack.screenshot('networks');
      const dialog = await networks.inspect('e2e-net');
      await dialog.getByText(/"Name": "e2e-net"/).waitFor();
      await stack.screenshot('network-inspect');
      await dialog.getByRole('button', { name: 'Close' }).click();
      await networks.remove('e2e-net');
      await networks.row('e2e-net').waitFor({ state: 'detached' });
      const ls = await stack.env.dockerOk(['network', 'ls', '--format', '{{.Name}}']);
      assert.doesNotMatch(ls.stdout, /e2e-net/);
    });

    it('saves settings to the settings file and refuses a bad one with its reason', async () => {
      const settings = new SettingsPage(stack.page);
      await settings.open('Settings');
      await settings.field('CPUs').fill('3');
      await settings.field('Memory (MiB)').fill('3072');
      await settings.field(/^Insecure registries/).fill('registry.local:5000');
      await settings.form.getByRole('checkbox', { name: 'Start Berth when I log in' }).check();
      await settings.save();
      const saved = JSON.parse(await readFile(stack.settingsFile, 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(saved['cpus'], 3);
      assert.equal(saved['memoryMiB'], 3072);
      assert.deepEqual(saved['insecureRegistries'], ['registry.local:5000']);
      assert.equal(saved['startAtLogin'], true);
      await stack.screenshot('settings');
      await settings.field(/^Shared folders/).fill('relative/path');
      await settings.form.getByRole('button', { name: 'Save' }).click();
      await settings.form
        .getByRole('alert')
        .getByText(/absolute path/)
        .waitFor();
    });

    it('shows the engine log, refuses to restart an engine it does not manage, resets', async () => {
      const trouble = new TroubleshootPage(stack.page);
      await trouble.open('Troubleshoot');
      await trouble.log
        .getByText(/INFO\s+berthd started/)
        .first()
        .waitFor({ timeout: 15_000 });
      await stack.page.getByRole('button', { name: 'Restart engine' }).click();
      await stack.page
        .getByRole('alert')
        .getByText(/not managed by Berth/)
        .waitFor();
      await stack.page.getByRole('button', { name: 'Dismiss error' }).click();
      await stack.screenshot('troubleshoot');
      const dialog = await trouble.reset();
      // Cancel has the focus: Enter does not reset by accident.
      await stack.screenshot('troubleshoot-reset');
      await dialog.getByRole('button', { name: 'Reset settings' }).click();
      await dialog.waitFor({ state: 'detached' });
      await stack.page.getByText('Settings are back to their defaults.').waitFor();
      const saved = JSON.parse(await readFile(stack.settingsFile, 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(saved['startAtLogin'], false);
      assert.deepEqual(saved['insecureRegistries'], []);
    });
  },
);
