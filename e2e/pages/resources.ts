/** The Volumes, Networks, Settings and Troubleshoot screens. */
import type { Locator, Page } from 'playwright-core';
import { AppPage } from './app.js';

export class VolumesPage extends AppPage {
  readonly rows: Locator;

  constructor(page: Page) {
    super(page);
    this.rows = page.getByTestId('volume-row');
  }

  row(name: string): Locator {
    return this.rows.filter({ hasText: name });
  }

  async remove(name: string): Promise<void> {
    await this.page.getByRole('button', { name: `Remove volume ${name}` }).click();
  }

  /** Opens the prune confirmation; `confirm` false cancels it. */
  async prune(confirm = true): Promise<void> {
    await this.page.getByRole('button', { name: 'Prune unused' }).click();
    const d = this.page.getByRole('dialog', { name: 'Prune unused volumes' });
    await d.getByRole('button', { name: confirm ? 'Remove unused volumes' : 'Cancel' }).click();
    await d.waitFor({ state: 'detached', timeout: 60_000 });
  }
}

export class NetworksPage extends AppPage {
  readonly rows: Locator;

  constructor(page: Page) {
    super(page);
    this.rows = page.getByTestId('network-row');
  }

  row(name: string): Locator {
    return this.rows.filter({
      has: this.page.locator('.name').getByText(name, { exact: true }),
    });
  }

  async inspect(name: string): Promise<Locator> {
    await this.page.getByRole('button', { name: `Inspect network ${name}` }).click();
    return this.page.getByRole('dialog', { name: `Network ${name}` });
  }

  async remove(name: string): Promise<void> {
    await this.page.getByRole('button', { name: `Remove network ${name}` }).click();
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
