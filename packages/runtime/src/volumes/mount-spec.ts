/**
 * HostConfig.Binds and HostConfig.Mounts parsed and validated as moby's linux mount parser
 * does (volume/mounts/linux_parser.go), with its error texts — clients and users match on
 * them. The result is a plan; nothing is created or mounted here, except that `--mount
 * type=bind` checks its source exists (the one I/O moby's parser does).
 */
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidParameterError } from '../api/errors.js';
import type { DockerMount } from './service.js';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

const PROPAGATIONS: readonly string[] = [
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
];
const DEFAULT_PROPAGATION: Propagation = 'rprivate';

export type PlannedMount =
  | {
      type: 'bind';
      source: string;
      destination: string;
      rw: boolean;
      /** The mode as the user wrote it (`ro,z`), shown by inspect. */
      mode: string;
      propagation: Propagation;
      nonRecursive: boolean;
      /** `-v` creates a missing source directory; `--mount` refuses (checked while parsing). */
      createSource: boolean;
    }
  | {
      type: 'volume';
      /** Absent: a new anonymous volume. */
      name?: string;
      destination: string;
      rw: boolean;
      mode: string;
      /** Copy image content at the destination into the volume while it is empty. */
      copyData: boolean;
      driver?: string;
      driverOpts?: Record<string, string>;
      labels?: Record<string, string>;
    }
  | {
      type: 'tmpfs';
      destination: string;
      rw: boolean;
      sizeBytes?: number;
      /** Permission bits. */
      mode?: number;
    };

const RW_MODES = ['rw', 'ro'];
const LABEL_MODES = ['z', 'Z'];
const COPY_MODES = ['nocopy'];
const CONSISTENCY_MODES = ['consistent', 'cached', 'delegated', 'default'];

/** moby's linuxValidMountMode: known words, at most one of each kind. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const kind = [RW_MODES, LABEL_MODES, PROPAGATIONS, COPY_MODES, CONSISTENCY_MODES].findIndex(
      (words) => words.includes(o),
    );
    if (kind < 0) return false;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts.every((c) => c <= 1);
}

function modeWords(mode: string): string[] {
  return mode === '' ? [] : mode.split(',');
}

function mountConfigError(type: string | undefined, message: string): InvalidParameterError {
  return new InvalidParameterError(`invalid mount config for type "${type ?? ''}": ${message}`);
}

function checkTarget(type: string | undefined, target: string | undefined): string {
  if (!target) throw mountConfigError(type, 'field Target must not be empty');
  if (target === '/' || posix.normalize(target) === '/') {
    throw mountConfigError(type, "invalid specification: destination can't be '/'");
  }
  if (!target.startsWith('/')) {
    throw mountConfigError(type, `invalid mount path: '${target}' mount path must be absolute`);
  }
  return posix.normalize(target).replace(/(.)\/$/, '$1');
}

/**
 * Validates one HostConfig.Mounts entry (moby's validateMountConfigImpl) and plans it.
 * `checkSourceExists` is true for the Mounts API, false for Binds (which create the source).
 */
export function parseMount(m: DockerMount, checkSourceExists = true): PlannedMount {
  const type = m.Type;
  const destination = checkTarget(type, m.Target);
  const rw = !m.ReadOnly;
  switch (type) {
    case 'bind': {
      if (!m.Source) throw mountConfigError(type, 'field Source must not be empty');
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATIONS.includes(prop)) {
        throw mountConfigError(type, `invalid propagation mode: ${prop}`);
      }
      if (m.VolumeOptions)
        throw mountConfigError(type, 'field VolumeOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
      if (!m.Source.startsWith('/')) {
        throw mountConfigError(
          type,
          `invalid mount path: '${m.Source}' mount path must be absolute`,
        );
      }
      const source = posix.normalize(m.Source).replace(/(.)\/$/, '$1');
      const createSource = !checkSourceExists || m.BindOptions?.CreateMountpoint === true;
      if (!createSource && !existsSync(source)) {
        throw mountConfigError(type, `bind source path does not exist: ${source}`);
      }
      return {
        type,
        source,
        destination,
        rw,
        mode: '',
        propagation: (prop as Propagation | undefined) || DEFAULT_PROPAGATION,
        nonRecursive: m.BindOptions?.NonRecursive === true,
        createSource,
      };
    }
    case 'volume': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError(type, 'field TmpfsOptions must not be specified');
      if (!m.Source && m.ReadOnly) {
        throw mountConfigError(type, 'must not set ReadOnly mode when using anonymous volumes');
      }
      if (m.VolumeOptions?.Subpath) {
        throw mountConfigError(type, 'volume subpaths are not supported by this engine');
      }
      const driverConfig = m.VolumeOptions?.DriverConfig;
      return {
        type,
        ...(m.Source ? { name: m.Source } : {}),
        destination,
        rw,
        mode: '',
        copyData: m.VolumeOptions?.NoCopy !== true,
        ...(driverConfig?.Name ? { driver: driverConfig.Name } : {}),
        ...(driverConfig?.Options ? { driverOpts: driverConfig.Options } : {}),
        ...(m.VolumeOptions?.Labels ? { labels: m.VolumeOptions.Labels } : {}),
      };
    }
    case 'tmpfs': {
      if (m.BindOptions) throw mountConfigError(type, 'field BindOptions must not be specified');
      if (m.VolumeOptions)
        throw mountConfigError(type, 'field VolumeOptions must not be specified');
      if (m.Source) throw mountConfigError(type, 'field Source must not be specified');
      const size = m.TmpfsOptions?.SizeBytes;
      if (size !== undefined && size < 0) {
        throw mountConfigError(type, `invalid tmpfs option size: ${size}`);
      }
      const mode = m.TmpfsOptions?.Mode;
      return {
        type,
        destination,
        rw,
        ...(size ? { sizeBytes: size } : {}),
        ...(mode ? { mode } : {}),
      };
    }
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
}

/** Parses one HostConfig.Binds entry (moby's ParseMountRaw): `src:dst[:mode]` or `dst`. */
export function parseBind(raw: string): PlannedMount {
  const invalidSpec = `invalid volume specification: '${raw}'`;
  const arr = raw.split(':');
  // moby splits into at most 4 fields; a 4th means too many colons.
  if (arr[0] === '' || arr.length > 3) throw new InvalidParameterError(invalidSpec);
  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) target = arr[0] ?? '';
  else if (arr.length === 2) {
    // `/foo:rw` is a destination with a mode, which a volume cannot have.
    if (validMountMode(arr[1] ?? '')) throw new InvalidParameterError(invalidSpec);
    source = arr[0] ?? '';
    target = arr[1] ?? '';
  } else {
    source = arr[0] ?? '';
    target = arr[1] ?? '';
    mode = arr[2] ?? '';
  }
  if (!validMountMode(mode)) throw new InvalidParameterError(`invalid mode: ${mode}`);
  const words = modeWords(mode);
  const type = source.startsWith('/') ? 'bind' : 'volume';
  const propagation = words.find((w) => PROPAGATIONS.includes(w));
  const spec: DockerMount = {
    Type: type,
    Target: target,
    ReadOnly: words.includes('ro'),
    ...(source ? { Source: source } : {}),
    ...(propagation ? { BindOptions: { Propagation: propagation } } : {}),
    ...(type === 'volume' && words.includes('nocopy') ? { VolumeOptions: { NoCopy: true } } : {}),
  };
  let planned: PlannedMount;
  try {
    planned = parseMount(spec, false);
  } catch (err) {
    if (err instanceof InvalidParameterError) {
      throw new InvalidParameterError(`${invalidSpec}: ${err.message}`);
    }
    throw err;
  }
  if (planned.type === 'tmpfs') return planned;
  // moby shows the user's mode; a local volume without one is labelled "z".
  return { ...planned, mode: planned.type === 'volume' && mode === '' ? 'z' : mode };
}
