/** The dashboard's frame: sidebar sections and the status bar. */
import type { Locator, Page } from 'playwright-core';

export class AppPage {
  readonly engineState: Locator;

  constructor(readonly page: Page) {
    this.engineState = page.getByTestId('engine-state');
  }

  async open(
    section: 'Containers' | 'Images' | 'Volumes' | 'Networks' | 'Settings' | 'Troubleshoot',
  ): Promise<void> {
    await this.page
      .getByRole('navigation', { name: 'Sections' })
      .getByRole('link', { name: section })
      .click();
    await this.page.getByRole('heading', { level: 1, name: section }).waitFor();
  }

  async waitEngineRunning(): Promise<void> {
    await this.page.getByText('Engine running').waitFor();
  }
}
