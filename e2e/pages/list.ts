/** What the list screens (containers, images, volumes, networks) have in common. */
import type { Locator, Page } from 'playwright-core';
import { AppPage } from './app.js';

type Section = Parameters<AppPage['open']>[0];

/** A screen whose content is one table; each row carries `data-testid=<rowTestId>`. */
export class ListPage extends AppPage {
  readonly rows: Locator;

  constructor(
    page: Page,
    private readonly section: Section,
    rowTestId: string,
  ) {
    super(page);
    this.rows = page.getByTestId(rowTestId);
  }

  async show(): Promise<void> {
    await this.open(this.section);
  }

  row(name: string): Locator {
    return this.rows.filter({ hasText: name });
  }

  /** Clicks the button whose accessible name is `name` (a row action, e.g. `Remove web`). */
  protected async press(name: string): Promise<void> {
    await this.page.getByRole('button', { name }).click();
  }
}

/** "Prune unused", then `choice` in the confirmation `dialog`; waits until the dialog is gone. */
export async function pruneUnused(page: Page, dialog: string, choice: string): Promise<void> {
  await page.getByRole('button', { name: 'Prune unused' }).click();
  const d = page.getByRole('dialog', { name: dialog });
  await d.getByRole('button', { name: choice }).click();
  await d.waitFor({ state: 'detached', timeout: 60_000 });
}
