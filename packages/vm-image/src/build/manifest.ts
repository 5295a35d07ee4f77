/** manifest.json of a built image: what went in (versions, hashes) and what came out. */
import { z } from 'zod';

const FileInfo = z.object({ size: z.number().int(), sha256: z.string() });
const Component = z.object({ name: z.string(), version: z.string(), sha256: z.string() });

export const ManifestSchema = z.object({
  formatVersion: z.literal(1),
  /** Hash of every input; names the image in the cache. */
  key: z.string(),
  arch: z.enum(['amd64', 'arm64']),
  sourceDateEpoch: z.number().int(),
  kernel: z.object({ package: z.string(), version: z.string(), release: z.string() }),
  /** The kernel command line to boot with. */
  cmdline: z.string(),
  node: z.string(),
  berthd: z.object({ version: z.string(), sha256: z.string() }),
  agent: z.object({ sha256: z.string() }),
  /** The engine service (berthd with the machine's flags); absent in images before it. */
  engine: z.object({ sha256: z.string() }).optional(),
  files: z.record(z.string(), FileInfo),
  debian: z.array(Component),
  npm: z.array(Component),
});
export type Manifest = z.infer<typeof ManifestSchema>;
