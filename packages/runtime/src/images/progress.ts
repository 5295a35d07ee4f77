/**
 * Docker's JSON progress messages (the stream of `POST /images/create`, `/images/{name}/push`,
 * `/build`): one JSON object per line. The docker CLI draws its bars from `progressDetail`;
 * `progress` is the pre-rendered bar older clients print.
 */

export interface ProgressMessage {
  status?: string;
  /** What the line is about: a short layer ID, a tag; lines with the same id are redrawn in place. */
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { code?: number; message: string };
  aux?: unknown;
}

export type ProgressEmitter = (msg: ProgressMessage) => void;

/** The message that ends a stream with an error (the CLI prints `error` and exits non-zero). */
export function errorMessage(err: unknown): ProgressMessage {
  const message = err instanceof Error ? err.message : String(err);
  return { error: message, errorDetail: { message } };
}

/** docker/go-units HumanSize: decimal units, 4 significant digits ("2.155MB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let i = 0;
  let n = bytes;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** The bar moby renders for `progress` (JSONProgress.String at server width). */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  const filled = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(Math.max(0, 50 - filled))}] `;
  const numbers =
    current > total
      ? humanSize(current).padStart(8)
      : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** A progress line with bytes done of a total, as moby sends for Downloading/Extracting/Pushing. */
export function progressLine(
  id: string,
  status: string,
  current: number,
  total: number,
): ProgressMessage {
  return { status, id, progress: progressBar(current, total), progressDetail: { current, total } };
}

/**
 * Wraps a byte counter so it reports at most every `intervalMs` (and always the final count):
 * a layer of many small chunks must not flood the stream.
 */
export function throttled(
  report: (current: number, total: number) => void,
  intervalMs = 100,
): (current: number, total: number) => void {
  let last = 0;
  return (current, total) => {
    const now = Date.now();
    if (current >= total || now - last >= intervalMs) {
      last = now;
      report(current, total);
    }
  };
}
