/** The Build screen: the folder and options form, the streamed log, and the built image. */
import type { Locator, Page } from 'playwright-core';
import { AppPage } from './app.js';

export interface BuildOptions {
  folder: string;
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
}

const lines = (map: Record<string, string> | undefined) =>
  Object.entries(map ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

export class BuildPage extends AppPage {
  readonly form: Locator;
  readonly log: Locator;
  readonly error: Locator;
  readonly done: Locator;
  readonly imageId: Locator;
  readonly buildButton: Locator;

  constructor(page: Page) {
    super(page);
    this.form = page.getByRole('form', { name: 'Build options' });
    this.log = page.getByRole('log', { name: 'Build log' });
    this.error = page.getByRole('alert');
    this.done = page.getByRole('status').filter({ hasText: /^Built / });
    this.imageId = page.getByTestId('built-image-id');
    this.buildButton = this.form.getByRole('button', { name: 'Build', exact: true });
  }

  async show(): Promise<void> {
    await this.page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: 'Build' })
      .click();
    await this.page.getByRole('heading', { level: 1, name: 'Build' }).waitFor();
  }

  /** Fills the form and presses Build (it does not wait for the end). */
  async build(o: BuildOptions): Promise<void> {
    await this.form.getByLabel('Folder', { exact: true }).fill(o.folder);
    await this.form.getByLabel(/^Dockerfile/).fill(o.dockerfile ?? 'Dockerfile');
    await this.form.getByLabel(/^Tags/).fill((o.tags ?? []).join(', '));
    await this.form.getByLabel(/^Build arguments/).fill(lines(o.buildArgs));
    await this.form.getByLabel(/^Labels/).fill(lines(o.labels));
    await this.form.getByLabel(/^Target stage/).fill(o.target ?? '');
    await this.form.getByLabel('No cache').setChecked(o.noCache ?? false);
    await this.buildButton.click();
  }

  async logText(): Promise<string> {
    return (await this.log.textContent()) ?? '';
  }

  /** Opens the run dialog for the image just built. */
  async run(): Promise<Locator> {
    await this.page.getByRole('button', { name: 'Run', exact: true }).click();
    return this.page.getByRole('dialog', { name: 'Run a container' });
  }
}
