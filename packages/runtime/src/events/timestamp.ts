/**
 * The `since`/`until` values of `GET /events` (and of logs): the docker CLI sends
 * `seconds[.fraction]`; other clients send RFC 3339 dates or durations such as `10m`, meaning
 * that long before now.
 */
import { InvalidParameterError } from '../api/errors.js';

const UNIX = /^(-?\d+)(?:\.(\d{1,9}))?$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const NANOS_PER: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go-style duration ("1h30m", "10m", "2.5s") in nanoseconds, or undefined. */
function parseDuration(value: string): bigint | undefined {
  if (!/^(\d+(?:\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(DURATION_PART))
    total += Number(m[1]) * (NANOS_PER[m[2] ?? 's'] ?? 0);
  return BigInt(Math.round(total));
}

/**
 * Unix nanoseconds for a timestamp parameter, or undefined when it is empty.
 * `now` (ms) anchors durations; throws InvalidParameterError on anything else.
 */
export function parseTimestamp(value: string | null, now = Date.now()): bigint | undefined {
  if (value === null || value === '') return undefined;
  const unix = UNIX.exec(value);
  if (unix) {
    const frac = (unix[2] ?? '').padEnd(9, '0');
    const sec = BigInt(unix[1] ?? '0');
    const nanos = sec * 1_000_000_000n + (sec < 0n ? -1n : 1n) * BigInt(frac);
    return nanos;
  }
  const ago = parseDuration(value);
  if (ago !== undefined) return BigInt(now) * 1_000_000n - ago;
  // Only full dates: Date.parse accepts too much ("1") on its own.
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return BigInt(ms) * 1_000_000n;
  }
  throw new InvalidParameterError(`failed to parse value as time or duration: "${value}"`);
}
