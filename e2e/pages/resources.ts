/** The Volumes, Networks, Settings and Troubleshoot screens. */
import type { Locator, Page } from 'playwright-core';
import { AppPage } from './app.js';
import { ListPage, pruneUnused } from './list.js';

export class VolumesPage extends ListPage {
  constructor(page: Page) {
    super(page, 'Volumes', 'volume-row');
  }

  async remove(name: string): Promise<void> {
    await this.press(`Remove volume ${name}`);
  }

  /** Opens the prune confirmation; `confirm` false cancels it. */
  async prune(confirm = true): Promise<void> {
    await pruneUnused(
      this.page,
      'Prune unused volumes',
      confirm ? 'Remove unused volumes' : 'Cancel',
    );
  }
}

export class NetworksPage extends ListPage {
  constructor(page: Page) {
    super(page, 'Networks', 'network-row');
  }

  override row(name: string): Locator {
    return this.rows.filter({
      has: this.page.locator('.name').getByText(name, { exact: true }),
    });
  }

  async inspect(name: string): Promise<Locator> {
    await this.press(`Inspect network ${name}`);
    return this.page.getByRole('dialog', { name: `Network ${name}` });
  }

  async remove(name: string): Promise<void> {
    await this.press(`Remove network ${name}`);
  }
}

export class SettingsPage extends AppPage {
  readonly form: Locator;

  constructor(page: Page) {
    super(page);
    this.form = page.getByRole('form', { name: 'Settings' });
  }

  field(label: 'CPUs' | 'Memory (MiB)' | 'Disk (GiB)' | RegExp): Locator {
    return this.form.getByLabel(label);
  }

  async save(): Promise<void> {
    await this.form.getByRole('button', { name: 'Save' }).click();
    await this.form.getByRole('status').waitFor();
  }
}

export class TroubleshootPage extends AppPage {
  readonly log: Locator;

  constructor(page: Page) {
    super(page);
    this.log = page.getByLabel('Engine log');
  }

  /** Reset to defaults through its confirmation dialog. */
  async reset(): Promise<Locator> {
    await this.page.getByRole('button', { name: 'Reset to defaults' }).click();
    return this.page.getByRole('dialog', { name: 'Reset to defaults' });
  }
}
