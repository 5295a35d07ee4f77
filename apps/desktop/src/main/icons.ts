/** Tray and menu dots drawn as raw BGRA bitmaps, so no image files ship for them. */
import type { Dot } from './tray-model.js';

const COLOURS: Record<Dot, [number, number, number]> = {
  green: [0x3c, 0xcf, 0x7e],
  red: [0xe5, 0x48, 0x4d],
  amber: [0xe8, 0xb0, 0x4a],
  grey: [0x98, 0xa2, 0xb3],
};

/** A size×size BGRA bitmap of an anti-aliased filled circle. */
export function dotBitmap(dot: Dot, size = 16): Buffer {
  const [r, g, b] = COLOURS[dot];
  const buf = Buffer.alloc(size * size * 4);
  const c = (size - 1) / 2;
  const radius = size * 0.38;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const alpha = Math.max(0, Math.min(1, radius + 0.5 - d));
      const i = (y * size + x) * 4;
      buf[i] = b;
      buf[i + 1] = g;
      buf[i + 2] = r;
      buf[i + 3] = Math.round(alpha * 255);
    }
  }
  return buf;
}
