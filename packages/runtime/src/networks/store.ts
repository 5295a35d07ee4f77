/**
 * What networking keeps on disk under `<data-root>/networks/`: one JSON file per network
 * (`<id>.json`, Docker's inspect fields plus the bridge device), and per container a directory
 * `containers/<id>/` with its network configuration (`config.json`), its live sandbox while it
 * runs (`sandbox.json`: addresses, veths, open ports) and the generated hosts/resolv.conf/
 * hostname files. Writes are atomic (temp file + rename); reads are validated with zod.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { discardDir, sweepDiscarded } from '../os/discard.js';

const stringMap = z.record(z.string(), z.string());

export const ipamConfigSchema = z.object({
  Subnet: z.string(),
  Gateway: z.string(),
  IPRange: z.string().optional(),
});

export const networkRecordSchema = z.object({
  Id: z.string().regex(/^[0-9a-f]{64}$/),
  Name: z.string(),
  Created: z.string(),
  Driver: z.enum(['bridge', 'host', 'null']),
  Internal: z.boolean(),
  Attachable: z.boolean(),
  EnableIPv6: z.boolean(),
  IPAM: z.object({
    Driver: z.string(),
    Options: stringMap.nullable(),
    Config: z.array(ipamConfigSchema),
  }),
  Options: stringMap,
  Labels: stringMap,
  /** Predefined (bridge, host, none): cannot be removed. */
  builtin: z.boolean(),
  /** The subnet was given by the user (static addresses are allowed only then). */
  userSubnet: z.boolean().optional(),
  /** The Linux bridge device (bridge driver only). */
  device: z.string().optional(),
});
export type NetworkRecord = z.infer<typeof networkRecordSchema>;

const portBindingsSchema = z.record(
  z.string(),
  z.array(z.object({ HostIp: z.string().optional(), HostPort: z.string().optional() })),
);

/** The SandboxRequest as recorded at create (see service.ts). */
export const containerRequestSchema = z.object({
  containerId: z.string(),
  name: z.string(),
  hostname: z.string(),
  domainname: z.string().optional(),
  networkMode: z.string(),
  exposedPorts: z.array(z.string()),
  portBindings: portBindingsSchema,
  publishAllPorts: z.boolean(),
  dns: z.array(z.string()).optional(),
  dnsSearch: z.array(z.string()).optional(),
  dnsOptions: z.array(z.string()).optional(),
  extraHosts: z.array(z.string()).optional(),
});

export const attachmentSchema = z.object({
  aliases: z.array(z.string()),
  /** A static address asked for with --ip. */
  ipv4: z.string().optional(),
});
export type Attachment = z.infer<typeof attachmentSchema>;

export const containerConfigSchema = z.object({
  request: containerRequestSchema,
  /** Networks the container joins when it starts, by network id. */
  networks: z.record(z.string(), attachmentSchema),
  /** Learnt from `network connect` before the create request was seen (see adopt()). */
  partial: z.boolean().optional(),
  /** Networks of the (unseen) create request disconnected while partial. */
  removed: z.array(z.string()).optional(),
});
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

export const endpointSchema = z.object({
  endpointId: z.string(),
  ip: z.string(),
  mac: z.string(),
  ifName: z.string(),
  hostVeth: z.string(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

export const openPortSchema = z.object({
  container: z.object({ port: z.number(), proto: z.enum(['tcp', 'udp', 'sctp']) }),
  hostIp: z.string(),
  hostPort: z.number(),
});

export const sandboxStateSchema = z.object({
  /** Undefined for host networking. */
  netnsPath: z.string().optional(),
  /** Endpoints by network id. */
  endpoints: z.record(z.string(), endpointSchema),
  ports: z.array(openPortSchema),
});
export type SandboxState = z.infer<typeof sandboxStateSchema>;

function writeAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o644 });
  renameSync(tmp, file);
}

function readValid<S extends z.ZodType>(file: string, schema: S): z.infer<S> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

export class NetworkStore {
  readonly containersDir: string;

  constructor(readonly root: string) {
    this.containersDir = join(root, 'containers');
    mkdirSync(this.containersDir, { recursive: true, mode: 0o711 });
    sweepDiscarded(this.containersDir);
  }

  /** Every readable network record; unreadable ones are logged by the caller via `bad`. */
  loadNetworks(bad: (file: string) => void): NetworkRecord[] {
    const out: NetworkRecord[] = [];
    for (const name of readdirSync(this.root)) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const rec = (() => {
        try {
          return readValid(join(this.root, name), networkRecordSchema);
        } catch {
          return undefined;
        }
      })();
      if (rec) out.push(rec);
      else bad(name);
    }
    return out;
  }

  saveNetwork(rec: NetworkRecord): void {
    writeAtomic(join(this.root, `${rec.Id}.json`), JSON.stringify(rec, null, 1));
  }

  deleteNetwork(id: string): void {
    rmSync(join(this.root, `${id}.json`), { force: true });
  }

  containerDir(id: string): string {
    return join(this.containersDir, id);
  }

  containerIds(): string[] {
    return readdirSync(this.containersDir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  loadContainer(id: string): { config?: ContainerConfig; sandbox?: SandboxState } {
    const dir = this.containerDir(id);
    const safe = <S extends z.ZodType>(file: string, s: S) => {
      try {
        return readValid(join(dir, file), s);
      } catch {
        return undefined;
      }
    };
    return {
      config: safe('config.json', containerConfigSchema),
      sandbox: safe('sandbox.json', sandboxStateSchema),
    };
  }

  saveConfig(id: string, config: ContainerConfig): void {
    mkdirSync(this.containerDir(id), { recursive: true });
    writeAtomic(join(this.containerDir(id), 'config.json'), JSON.stringify(config));
  }

  saveSandbox(id: string, sandbox: SandboxState | undefined): void {
    const file = join(this.containerDir(id), 'sandbox.json');
    if (sandbox === undefined) rmSync(file, { force: true });
    else {
      mkdirSync(this.containerDir(id), { recursive: true });
      writeAtomic(file, JSON.stringify(sandbox));
    }
  }

  deleteContainer(id: string): void {
    void discardDir(this.containerDir(id));
  }
}
