/** The host side of a published port: what a user's browser would fetch. */
import { waitFor } from '@berth/runtime/testing/process.js';

/** Resolves with the body of http://127.0.0.1:PORT/ once it contains `text` (bounded). */
export async function pageServed(port: number, text: string, timeoutMs = 20_000): Promise<string> {
  let body = '';
  await waitFor(
    `the page on 127.0.0.1:${port}`,
    async () => {
      body = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.text(),
        () => '',
      );
      return body.includes(text);
    },
    { timeoutMs, intervalMs: 200 },
  );
  return body;
}
