/** The Images screen and its pull dialog. */
import type { Locator, Page } from 'playwright-core';
import { ListPage, pruneUnused } from './list.js';

export class PullDialogPage {
  readonly dialog: Locator;
  readonly layers: Locator;
  readonly error: Locator;
  readonly done: Locator;

  constructor(page: Page) {
    this.dialog = page.getByRole('dialog', { name: 'Pull an image' });
    this.layers = this.dialog.getByTestId('layer');
    this.error = this.dialog.getByRole('alert');
    this.done = this.dialog.getByRole('status');
  }

  async pull(ref: string): Promise<void> {
    await this.dialog.getByLabel('Image', { exact: true }).fill(ref);
    await this.dialog.getByRole('button', { name: 'Pull', exact: true }).click();
  }

  /** Each layer's progress bar as [value, max], read from the DOM. */
  async progress(): Promise<{ layer: string; value: number; max: number }[]> {
    return this.dialog.locator('progress').evaluateAll((els) =>
      els.map((el) => {
        const p = el as HTMLProgressElement;
        return { layer: p.getAttribute('aria-label') ?? '', value: p.value, max: p.max };
      }),
    );
  }

  async close(): Promise<void> {
    await this.dialog.getByRole('button', { name: 'Close' }).click();
    await this.dialog.waitFor({ state: 'detached' });
  }
}

export class ImagesPage extends ListPage {
  constructor(page: Page) {
    super(page, 'Images', 'image-row');
  }

  async openPull(): Promise<PullDialogPage> {
    await this.page.getByRole('button', { name: 'Pull image' }).first().click();
    return new PullDialogPage(this.page);
  }

  async remove(name: string): Promise<void> {
    await this.press(`Remove ${name}`);
  }

  async run(name: string): Promise<void> {
    await this.press(`Run ${name}`);
  }
}

/** The tag, push and history dialogs and pruning of the Images screen. */
export class ImageToolsPage {
  constructor(readonly page: Page) {}

  /** A button of the row that lists `image` among its tags. */
  private button(image: string, action: RegExp): Locator {
    return this.page
      .getByTestId('image-row')
      .filter({ hasText: image })
      .getByRole('button', { name: action });
  }

  async tag(source: string, target: string): Promise<void> {
    await this.button(source, /^Tag /).click();
    const d = this.page.getByRole('dialog', { name: 'Tag an image' });
    await d.getByLabel('New name').fill(target);
    await d.getByRole('button', { name: 'Tag', exact: true }).click();
    await d.waitFor({ state: 'detached' });
  }

  /** Opens the push dialog for an image and pushes `ref`; returns the dialog. */
  async push(image: string, ref: string): Promise<Locator> {
    await this.button(image, /^Push /).click();
    const d = this.page.getByRole('dialog', { name: 'Push an image' });
    await d.getByLabel('Name to push').selectOption(ref);
    await d.getByRole('button', { name: 'Push', exact: true }).click();
    return d;
  }

  async history(image: string): Promise<Locator> {
    await this.button(image, /^History of /).click();
    return this.page.getByRole('dialog', { name: /^History of / });
  }

  async prune(): Promise<void> {
    await pruneUnused(this.page, 'Prune unused images', 'Remove unused images');
  }
}
