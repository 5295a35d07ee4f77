/**
 * electron-builder.yml read back and checked: the targets Berth ships, the macOS signing
 * settings, and the resources each platform bundles. `npm run dist` (scripts/dist.mjs) and
 * the configuration test use it, so both agree on what a complete build needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';

/** apps/desktop, from dist/packaging/. */
export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CONFIG_FILE = join(APP_DIR, 'electron-builder.yml');

const targetSchema = z.object({
  target: z.string(),
  arch: z.array(z.enum(['x64', 'arm64', 'ia32', 'armv7l', 'universal'])).default(['x64']),
});
const resourceSchema = z.object({
  from: z.string(),
  to: z.string(),
  filter: z.array(z.string()).optional(),
});
const platformSchema = z.looseObject({
  target: z.array(targetSchema),
  extraResources: z.array(resourceSchema).default([]),
});

export const builderConfigSchema = z.looseObject({
  appId: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/),
  productName: z.string(),
  directories: z.looseObject({ output: z.string(), buildResources: z.string() }),
  files: z.array(z.string()),
  extraResources: z.array(resourceSchema).default([]),
  mac: platformSchema.extend({
    hardenedRuntime: z.boolean(),
    entitlements: z.string(),
    entitlementsInherit: z.string().optional(),
  }),
  win: platformSchema,
  linux: platformSchema,
});
export type BuilderConfig = z.infer<typeof builderConfigSchema>;

export function readBuilderConfig(file = CONFIG_FILE): BuilderConfig {
  return builderConfigSchema.parse(parse(readFileSync(file, 'utf8')));
}

export type Platform = 'mac' | 'win' | 'linux';
export type Arch = 'x64' | 'arm64';

/** packages/vm-image names architectures as Debian does. */
export const GUEST_ARCH: Record<Arch, string> = { x64: 'amd64', arm64: 'arm64' };

/** One resource of one platform build, with its macros expanded and its source resolved. */
export interface Resource {
  from: string;
  to: string;
  /** Absolute path of the source. */
  path: string;
  /** Made by `npm run vm-image` rather than by `npm run build`. */
  vmImage: boolean;
  /** The berthd bundle, made by `npm run dist` itself (berthd-bundle.ts) before packaging. */
  berthdBundle: boolean;
}

/** electron-builder.yml's source of the berthd bundle (BERTHD_BUNDLE_DIR, from apps/desktop). */
export const BERTHD_BUNDLE_FROM = 'dist/resources/berthd';

export function resourcesFor(config: BuilderConfig, platform: Platform, arch: Arch): Resource[] {
  const env: Record<string, string> = { BERTH_GUEST_ARCH: GUEST_ARCH[arch] };
  return [...config.extraResources, ...config[platform].extraResources].map((r) => {
    const from = r.from
      .replaceAll('${arch}', arch)
      .replace(/\$\{env\.([A-Z_]+)\}/g, (_, name: string) => env[name] ?? `\${env.${name}}`);
    return {
      from,
      to: r.to,
      path: resolve(APP_DIR, from),
      vmImage: r.from.includes('vm-image'),
      berthdBundle: from === BERTHD_BUNDLE_FROM,
    };
  });
}

export function missingResources(resources: Resource[]): Resource[] {
  return resources.filter((r) => !existsSync(r.path));
}
