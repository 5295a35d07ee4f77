/**
 * Seccomp profiles in moby's format (the format of `--security-opt seccomp=<file>`, whose
 * content the docker CLI sends inline) and their conversion to the OCI runtime spec's
 * `linux.seccomp`, for one architecture and one capability set, the way moby's
 * `setupSeccomp` does it: a rule applies only when its `includes` all match and none of its
 * `excludes` do.
 */
import { release } from 'node:os';
import { z } from 'zod';
import { InvalidParameterError } from '../api/errors.js';

const argSchema = z.object({
  index: z.number().int().min(0).max(5),
  value: z.number().int().nonnegative(),
  valueTwo: z.number().int().nonnegative().optional(),
  op: z.enum([
    'SCMP_CMP_NE',
    'SCMP_CMP_LT',
    'SCMP_CMP_LE',
    'SCMP_CMP_EQ',
    'SCMP_CMP_GE',
    'SCMP_CMP_GT',
    'SCMP_CMP_MASKED_EQ',
  ]),
});

const filterSchema = z.object({
  caps: z.array(z.string()).optional(),
  arches: z.array(z.string()).optional(),
  minKernel: z.string().optional(),
});

const actionSchema = z.enum([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const ruleSchema = z.object({
  names: z.array(z.string()).optional(),
  name: z.string().optional(),
  action: actionSchema,
  errnoRet: z.number().int().nonnegative().optional(),
  args: z.array(argSchema).nullish(),
  comment: z.string().optional(),
  includes: filterSchema.optional(),
  excludes: filterSchema.optional(),
});

/** A profile in moby's format, validated when it comes from a client. */
export const seccompProfileSchema = z.object({
  defaultAction: actionSchema,
  defaultErrnoRet: z.number().int().nonnegative().optional(),
  architectures: z.array(z.string()).optional(),
  archMap: z
    .array(
      z.object({
        architecture: z.string(),
        subArchitectures: z.array(z.string()).nullable(),
      }),
    )
    .optional(),
  flags: z.array(z.string()).optional(),
  syscalls: z.array(ruleSchema).nullish(),
});
export type SeccompProfile = z.infer<typeof seccompProfileSchema>;
type SeccompAction = z.infer<typeof actionSchema>;

/** `linux.seccomp` of the OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: string[];
  flags?: string[];
  syscalls: Array<{
    names: string[];
    action: SeccompAction;
    errnoRet?: number;
    args?: Array<z.infer<typeof argSchema>>;
  }>;
}

/** Go's GOARCH names (used by `includes.arches`) and libseccomp's native arch, per Node arch. */
const ARCHES: Record<string, { go: string; scmp: string }> = {
  x64: { go: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  arm64: { go: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
};

function kernelAtLeast(kernel: string, min: string): boolean {
  const parse = (v: string): number[] =>
    (/^(\d+)\.(\d+)/.exec(v)?.slice(1) ?? ['0', '0']).map((n) => Number(n));
  const [ka = 0, kb = 0] = parse(kernel);
  const [ma = 0, mb = 0] = parse(min);
  return ka !== ma ? ka > ma : kb >= mb;
}

export interface SeccompTarget {
  /** Node's `process.arch` of the container's platform (default: this process's). */
  arch?: string;
  /** The container's bounding capability set, `CAP_*` names. */
  capabilities: readonly string[];
  /** Kernel release for `minKernel` (default: os.release()). */
  kernel?: string;
}

/** The OCI `linux.seccomp` for `profile` on the target; throws 400 for an unusable profile. */
export function toOciSeccomp(profile: SeccompProfile, target: SeccompTarget): OciSeccomp {
  const arch = ARCHES[target.arch ?? process.arch];
  if (!arch) throw new InvalidParameterError(`seccomp: unsupported architecture ${target.arch}`);
  const kernel = target.kernel ?? release();
  const caps = new Set(target.capabilities);

  let architectures: string[];
  if (profile.archMap && profile.archMap.length > 0) {
    const entry = profile.archMap.find((a) => a.architecture === arch.scmp);
    architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  } else {
    architectures = profile.architectures ?? [];
  }
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new InvalidParameterError(
      "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }

  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.name && rule.names?.length) {
      throw new InvalidParameterError("use either 'name' or 'names' in a seccomp rule, not both");
    }
    const inc = rule.includes;
    if (inc?.arches?.length && !inc.arches.includes(arch.go)) continue;
    if (inc?.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc?.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const exc = rule.excludes;
    if (exc?.arches?.includes(arch.go)) continue;
    if (exc?.caps?.some((c) => caps.has(c))) continue;
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args?.length ? { args: rule.args } : {}),
    });
  }

  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    ...(profile.flags?.length ? { flags: profile.flags } : {}),
    syscalls,
  };
}

/** Parses a client-sent profile (the JSON text of `seccomp=<profile>`). */
export function parseSeccompProfile(json: string): SeccompProfile {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new InvalidParameterError(
      `Decoding seccomp profile failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const parsed = seccompProfileSchema.safeParse(data);
  if (!parsed.success) {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${parsed.error.message}`);
  }
  return parsed.data;
}
