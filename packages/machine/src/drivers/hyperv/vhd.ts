/**
 * A raw image as a fixed-size VHD: the raw bytes followed by the 512-byte VHD footer (Hyper-V
 * attaches VHD/VHDX only; a fixed VHD is raw plus a footer, so the copy is cheap and the guest
 * sees the same bytes).
 */

const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);

/** CHS geometry per the VHD specification's algorithm (Appendix: CHS calculation). */
export function vhdGeometry(size: number): { cylinders: number; heads: number; sectors: number } {
  let total = Math.min(Math.floor(size / 512), 65535 * 16 * 255);
  let sectors: number;
  let heads: number;
  let cylTimesHeads: number;
  if (total >= 65535 * 16 * 63) {
    sectors = 255;
    heads = 16;
    cylTimesHeads = Math.floor(total / sectors);
  } else {
    sectors = 17;
    cylTimesHeads = Math.floor(total / sectors);
    heads = Math.max(4, Math.floor((cylTimesHeads + 1023) / 1024));
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      sectors = 31;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectors);
    }
    if (cylTimesHeads >= heads * 1024) {
      sectors = 63;
      heads = 16;
      cylTimesHeads = Math.floor(total / sectors);
    }
  }
  total = Math.floor(cylTimesHeads / heads);
  return { cylinders: total, heads, sectors };
}

/** The footer for a fixed VHD whose data part is `size` bytes (a multiple of 512). */
export function fixedVhdFooter(
  size: number,
  opts: { uniqueId: Buffer; timestampMs?: number },
): Buffer {
  if (size % 512 !== 0) throw new RangeError('VHD data size must be a multiple of 512');
  const f = Buffer.alloc(512);
  f.write('conectix', 0, 'ascii');
  f.writeUInt32BE(2, 8); // features: reserved bit
  f.writeUInt32BE(0x00010000, 12); // format version 1.0
  f.writeBigUInt64BE(0xffffffffffffffffn, 16); // data offset: none for fixed disks
  f.writeUInt32BE(
    Math.max(0, Math.floor(((opts.timestampMs ?? VHD_EPOCH_MS) - VHD_EPOCH_MS) / 1000)),
    24,
  );
  f.write('brth', 28, 'ascii'); // creator application
  f.writeUInt32BE(0x00010000, 32); // creator version
  f.write('Wi2k', 36, 'ascii'); // creator host OS
  f.writeBigUInt64BE(BigInt(size), 40); // original size
  f.writeBigUInt64BE(BigInt(size), 48); // current size
  const g = vhdGeometry(size);
  f.writeUInt16BE(g.cylinders, 56);
  f.writeUInt8(g.heads, 58);
  f.writeUInt8(g.sectors, 59);
  f.writeUInt32BE(2, 60); // disk type: fixed
  opts.uniqueId.copy(f, 68, 0, 16);
  let sum = 0;
  for (const b of f) sum += b;
  f.writeUInt32BE(~sum >>> 0, 64);
  return f;
}

/** The raw bytes padded to 512 and followed by the footer. */
export function rawToFixedVhd(raw: Buffer, uniqueId: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(raw.length / 512) * 512);
  raw.copy(padded);
  // A fixed timestamp keeps the output reproducible for the same input.
  return Buffer.concat([padded, fixedVhdFooter(padded.length, { uniqueId })]);
}
