/** The Containers screen, the Run dialog and a container's detail screen. */
import type { Locator, Page } from 'playwright-core';
import { ListPage } from './list.js';

export class RunDialogPage {
  readonly dialog: Locator;
  readonly commandLine: Locator;
  readonly error: Locator;

  constructor(page: Page) {
    this.dialog = page.getByRole('dialog', { name: 'Run a container' });
    this.commandLine = this.dialog.getByTestId('docker-run-line');
    this.error = this.dialog.getByRole('alert');
  }

  async fill(opts: {
    image?: string;
    name?: string;
    ports?: string;
    env?: string[];
    command?: string;
    volumes?: string[];
    restart?: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  }) {
    const d = this.dialog;
    if (opts.image !== undefined) await d.getByLabel('Image', { exact: true }).fill(opts.image);
    if (opts.name !== undefined) await d.getByLabel('Name (optional)').fill(opts.name);
    if (opts.ports !== undefined) await d.getByLabel(/^Ports/).fill(opts.ports);
    if (opts.env !== undefined) await d.getByLabel(/^Environment/).fill(opts.env.join('\n'));
    if (opts.command !== undefined) await d.getByLabel(/^Command/).fill(opts.command);
    if (opts.volumes !== undefined) await d.getByLabel(/^Volumes/).fill(opts.volumes.join('\n'));
    if (opts.restart !== undefined) await d.getByLabel('Restart policy').selectOption(opts.restart);
  }

  async submit(): Promise<void> {
    await this.dialog.getByRole('button', { name: 'Run', exact: true }).click();
  }
}

export class ContainersPage extends ListPage {
  constructor(page: Page) {
    super(page, 'Containers', 'container-row');
  }

  async openRun(): Promise<RunDialogPage> {
    await this.page.getByRole('button', { name: 'Run a container' }).first().click();
    return new RunDialogPage(this.page);
  }

  async openDetail(name: string): Promise<ContainerDetailPage> {
    await this.row(name).getByRole('link', { name }).click();
    const detail = new ContainerDetailPage(this.page);
    await this.page.getByRole('heading', { level: 1, name }).waitFor();
    return detail;
  }

  async stop(name: string): Promise<void> {
    await this.press(`Stop ${name}`);
  }

  /** Pause, Resume, Restart, Start or Stop on one row. */
  async act(action: 'Pause' | 'Resume' | 'Restart' | 'Start' | 'Stop', name: string) {
    await this.page.getByRole('button', { name: `${action} ${name}`, exact: true }).click();
  }

  async search(text: string): Promise<void> {
    await this.page.getByRole('searchbox', { name: 'Search containers' }).fill(text);
  }

  async filterState(label: 'All states' | 'Running' | 'Paused' | 'Stopped'): Promise<void> {
    await this.page.getByLabel('Show containers in state').selectOption({ label });
  }

  /** The rows of one compose project's group. */
  group(project: string): Locator {
    return this.page.getByRole('rowgroup', { name: `Compose project ${project}` });
  }

  async select(name: string): Promise<void> {
    await this.page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();
  }

  get bulkBar(): Locator {
    return this.page.getByRole('toolbar', { name: 'Selected containers' });
  }

  async remove(name: string): Promise<void> {
    await this.press(`Remove ${name}`);
  }
}

export class ContainerDetailPage {
  readonly logs: Locator;

  constructor(readonly page: Page) {
    this.logs = page.getByLabel('Container logs');
  }

  async tab(name: 'Logs' | 'Inspect' | 'Stats' | 'Terminal'): Promise<void> {
    await this.page.getByRole('tab', { name }).click();
  }

  /** Moves along the tabs with the arrow keys from the selected one. */
  async arrowToTab(presses: number): Promise<void> {
    await this.page.getByRole('tab', { selected: true }).focus();
    for (let i = 0; i < presses; i++) await this.page.keyboard.press('ArrowRight');
  }

  /** The terminal's screen (xterm.js renders its rows as text in the DOM). */
  get terminal(): Locator {
    return this.page.getByRole('region', { name: 'Terminal' });
  }

  /** Waits for the shell, then types a line into it as keystrokes and presses Enter. */
  async typeInTerminal(line: string): Promise<void> {
    await this.page.getByText('Connected — a shell in the container').waitFor({ timeout: 30_000 });
    await this.terminal.click();
    await this.page.keyboard.type(line, { delay: 10 });
    await this.page.keyboard.press('Enter');
  }

  chart(title: 'CPU' | 'Memory' | 'Network'): Locator {
    return this.page.getByRole('img', { name: new RegExp(`^${title}: `) });
  }

  async back(): Promise<void> {
    await this.page.getByRole('button', { name: '← Containers' }).click();
  }
}
