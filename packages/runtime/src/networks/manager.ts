/**
 * The NetworkService and the operations behind /networks: networks (store + bridge + NAT +
 * DNS), containers' network configuration, and live sandboxes (netns, veths, addresses,
 * published-port proxies, hosts files). All mutations run one at a time, so address
 * allocation and hosts-file updates never race.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConflictError,
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  SystemError,
} from '../api/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { DnsServer } from './dns.js';
import {
  extraHostEntries,
  hostModeHostsFile,
  hostsFile,
  hostResolvText,
  readHostResolv,
  resolvConf,
  rewriteInPlace,
  upstreamNameservers,
  type HostsEntry,
} from './files.js';
import { HostRegistry, type Reservation } from './host-registry.js';
import {
  allocateAddress,
  cidrsOverlap,
  formatCidr,
  formatIPv4,
  macFromIp,
  makePlan,
  parseCidr,
  parseIPv4,
  pickSubnet,
  type AddressPlan,
  type Cidr,
} from './ipam.js';
import {
  addNat,
  deleteNetns,
  dropLinks,
  ensureBridge,
  hostRoutes,
  linkExists,
  setupSandbox,
  type VethSpec,
} from './kernel.js';
import { planBindings, portMap, type OpenBinding } from './ports.js';
import { openProxy, type PortProxy } from './proxy.js';
import type {
  ContainerResolver,
  NetworkService,
  NetworkServiceOptions,
  Sandbox,
  SandboxRequest,
} from './service.js';
import {
  NetworkStore,
  type Attachment,
  type ContainerConfig,
  type Endpoint,
  type NetworkRecord,
  type SandboxState,
} from './store.js';

const PREDEFINED = ['bridge', 'host', 'none'] as const;

/** What `POST /networks/create` asks for (validated by the route). */
export interface CreateNetworkRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: {
    Driver?: string;
    Config?: Array<{ Subnet?: string; IPRange?: string; Gateway?: string }> | null;
    Options?: Record<string, string> | null;
  } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

interface Live {
  state: SandboxState;
  proxies: PortProxy[];
}

interface ContainerEntry {
  config: ContainerConfig;
  live?: Live;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export class NetworkManager implements NetworkService {
  private readonly store: NetworkStore;
  private readonly host: HostRegistry;
  private readonly events: EventBus;
  private readonly log: Logger;
  private readonly netnsDir: string;
  private readonly networks = new Map<string, NetworkRecord>();
  private readonly containers = new Map<string, ContainerEntry>();
  private readonly dns = new Map<string, DnsServer>();
  /** Networks whose bridge, NAT and DNS server are up in this process. */
  private readonly up = new Set<string>();
  private resolver: ContainerResolver | undefined;
  /** Clean-ups still running; close() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private queue: Promise<unknown> = Promise.resolve();
  private loaded: Promise<void> | undefined;
  private readonly hostResolv = readHostResolv();

  constructor(private readonly opts: NetworkServiceOptions) {
    this.store = new NetworkStore(join(opts.dataRoot, 'networks'));
    this.host = new HostRegistry(opts.hostStateDir);
    this.events = opts.events;
    this.log = opts.logger.child({ component: 'networks' });
    this.netnsDir = join(opts.execRoot, 'netns');
  }

  /** Runs mutations one at a time (after the store is loaded). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      await this.ready();
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private ready(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load(): Promise<void> {
    mkdirSync(this.netnsDir, { recursive: true, mode: 0o700 });
    for (const rec of this.store.loadNetworks((f) =>
      this.log.warn('unreadable network', { file: f }),
    )) {
      this.networks.set(rec.Id, rec);
    }
    for (const id of this.store.containerIds()) {
      const { config, sandbox } = this.store.loadContainer(id);
      if (!config) continue;
      // Proxies are reopened by repair() for containers that kept running.
      this.containers.set(id, {
        config,
        live: sandbox ? { state: sandbox, proxies: [] } : undefined,
      });
    }
    const names = new Set([...this.networks.values()].map((n) => n.Name));
    for (const name of PREDEFINED) {
      if (!names.has(name)) await this.createPredefined(name);
    }
  }

  private async createPredefined(name: (typeof PREDEFINED)[number]): Promise<void> {
    const base = {
      Id: hex(32),
      Name: name,
      Created: new Date().toISOString(),
      Internal: false,
      Attachable: false,
      EnableIPv6: false,
      Labels: {},
      builtin: true,
    };
    if (name !== 'bridge') {
      const rec: NetworkRecord = {
        ...base,
        Driver: name === 'host' ? 'host' : 'null',
        IPAM: { Driver: 'default', Options: null, Config: [] },
        Options: {},
      };
      this.networks.set(rec.Id, rec);
      this.store.saveNetwork(rec);
      return;
    }
    const { device, subnet } = await this.reserve(undefined, undefined);
    const plan = makePlan(subnet);
    const rec: NetworkRecord = {
      ...base,
      Driver: 'bridge',
      IPAM: {
        Driver: 'default',
        Options: null,
        Config: [{ Subnet: formatCidr(subnet), Gateway: formatIPv4(plan.gateway) }],
      },
      Options: {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1',
        'com.docker.network.bridge.name': device,
        'com.docker.network.driver.mtu': '1500',
      },
      device,
    };
    this.networks.set(rec.Id, rec);
    this.store.saveNetwork(rec);
  }

  /**
   * Picks (or checks) a subnet and bridge device no other network on this host uses, and
   * records them host-wide. `device` undefined: the first free berthN for the default bridge.
   */
  private async reserve(
    wantSubnet: Cidr | undefined,
    wantDevice: string | undefined,
    internal = false,
  ): Promise<{ device: string; subnet: Cidr }> {
    return this.host.locked(async () => {
      await this.host.collectGarbage();
      const reservations = this.host.list();
      const taken: Cidr[] = [
        ...(await hostRoutes()).map((r) => parseCidr(r)),
        ...reservations.map((r) => parseCidr(r.subnet)),
        ...[...this.networks.values()].flatMap((n) =>
          n.IPAM.Config.map((c) => parseCidr(c.Subnet)),
        ),
      ];
      let subnet: Cidr;
      if (wantSubnet) {
        if (taken.some((t) => cidrsOverlap(t, wantSubnet))) {
          throw new ForbiddenError('Pool overlaps with other one on this address space');
        }
        subnet = wantSubnet;
      } else subnet = pickSubnet(taken);
      const used = new Set(reservations.map((r) => r.device));
      let device = wantDevice;
      if (device === undefined) {
        for (let i = 0; i < 1000 && device === undefined; i++) {
          const candidate = `berth${i}`;
          if (!used.has(candidate) && !(await linkExists(candidate))) device = candidate;
        }
        if (device === undefined) throw new SystemError('no free bridge device name');
      } else if (used.has(device) || (await linkExists(device))) {
        throw new ConflictError(`bridge device ${device} is already in use`);
      }
      this.host.put({
        device,
        subnet: formatCidr(subnet),
        internal,
        dataRoot: this.opts.dataRoot,
        nat: false,
      });
      return { device, subnet };
    });
  }

  private plan(net: NetworkRecord): AddressPlan | undefined {
    const c = net.IPAM.Config[0];
    if (!c) return undefined;
    return makePlan(parseCidr(c.Subnet), c.Gateway, c.IPRange);
  }

  private isUserDefined(net: NetworkRecord): boolean {
    return !net.builtin && net.Driver === 'bridge';
  }

  /** Bridge with its gateway address, NAT (or isolation) and, for user networks, DNS. */
  private async bringUp(net: NetworkRecord): Promise<void> {
    if (this.up.has(net.Id) || net.Driver !== 'bridge' || !net.device) return;
    const plan = this.plan(net);
    if (!plan) return;
    const subnet = formatCidr(plan.subnet);
    const device = net.device;
    await this.host.locked(async () => {
      const r: Reservation = {
        device,
        subnet,
        internal: net.Internal,
        dataRoot: this.opts.dataRoot,
        nat: true,
      };
      this.host.put(r);
      await ensureBridge(device, `${formatIPv4(plan.gateway)}/${plan.subnet.prefix}`);
      if (!net.Internal) this.host.enableIpForward();
      await addNat(device, subnet, net.Internal);
    });
    if (this.isUserDefined(net) && !this.dns.has(net.Id)) {
      try {
        const server = await DnsServer.start({
          address: formatIPv4(plan.gateway),
          lookup: (name) => this.resolveName(net.Id, name),
          upstreams: upstreamNameservers(this.hostResolv),
          onError: (err) => this.log.warn('dns server error', { network: net.Name, err }),
        });
        this.dns.set(net.Id, server);
      } catch (err) {
        this.log.warn('cannot start the DNS server of a network', { network: net.Name, err });
      }
    }
    this.up.add(net.Id);
  }

  private async bringDown(net: NetworkRecord): Promise<void> {
    await this.dns.get(net.Id)?.close();
    this.dns.delete(net.Id);
    this.up.delete(net.Id);
    const plan = this.plan(net);
    if (!net.device || !plan) return;
    const device = net.device;
    await this.host.locked(async () => {
      await this.host.teardown({
        device,
        subnet: formatCidr(plan.subnet),
        internal: net.Internal,
        dataRoot: this.opts.dataRoot,
        nat: true,
      });
      this.host.restoreIpForwardIfUnused();
    });
  }

  // ---- lookups -------------------------------------------------------------------------------

  /** By exact id, exact name, then unique id prefix, as moby does. */
  findNetwork(term: string): NetworkRecord {
    const all = [...this.networks.values()];
    const exact = all.find((n) => n.Id === term) ?? all.find((n) => n.Name === term);
    if (exact) return exact;
    const byPrefix = /^[0-9a-f]+$/.test(term) ? all.filter((n) => n.Id.startsWith(term)) : [];
    if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0];
    if (byPrefix.length > 1) {
      throw new NotFoundError(
        `network ${term} is ambiguous (${byPrefix.length} matches found based on ID prefix)`,
      );
    }
    throw new NotFoundError(`network ${term} not found`);
  }

  async listNetworks(): Promise<NetworkRecord[]> {
    await this.ready();
    return [...this.networks.values()];
  }

  async getNetwork(term: string): Promise<NetworkRecord> {
    await this.ready();
    return this.findNetwork(term);
  }

  /** Running containers with an endpoint on the network. */
  private endpointsOn(
    networkId: string,
  ): Array<{ id: string; entry: ContainerEntry; ep: Endpoint }> {
    const out: Array<{ id: string; entry: ContainerEntry; ep: Endpoint }> = [];
    for (const [id, entry] of this.containers) {
      const ep = entry.live?.state.endpoints[networkId];
      if (ep) out.push({ id, entry, ep });
    }
    return out;
  }

  hasActiveEndpoints(networkId: string): boolean {
    return this.endpointsOn(networkId).length > 0;
  }

  /** Docker's inspect shape of a network. */
  inspect(net: NetworkRecord): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    const plan = this.plan(net);
    for (const { id, entry, ep } of this.endpointsOn(net.Id)) {
      containers[id] = {
        Name: entry.config.request.name,
        EndpointID: ep.endpointId,
        MacAddress: ep.mac,
        IPv4Address: plan ? `${ep.ip}/${plan.subnet.prefix}` : '',
        IPv6Address: '',
      };
    }
    return {
      Name: net.Name,
      Id: net.Id,
      Created: net.Created,
      Scope: 'local',
      Driver: net.Driver,
      EnableIPv6: net.EnableIPv6,
      IPAM: net.IPAM,
      Internal: net.Internal,
      Attachable: net.Attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: net.Options,
      Labels: net.Labels,
    };
  }

  // ---- networks ------------------------------------------------------------------------------

  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.serial(async () => {
      const name = req.Name.trim();
      if (!name) throw new InvalidParameterError('network name must not be empty');
      if ([...this.networks.values()].some((n) => n.Name === name)) {
        if ((PREDEFINED as readonly string[]).includes(name)) {
          throw new ForbiddenError(`${name} is a pre-defined network and cannot be created`);
        }
        throw new ConflictError(`network with name ${name} already exists`);
      }
      const driver = req.Driver || 'bridge';
      if (driver !== 'bridge') throw new NotFoundError(`plugin "${driver}" not found`);
      if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') {
        throw new NotFoundError(`plugin "${req.IPAM.Driver}" not found`);
      }
      const configs = req.IPAM?.Config ?? [];
      if (configs.length > 1)
        throw new InvalidParameterError('only one IPv4 IPAM config is supported');
      const wanted = configs[0];
      if (wanted && !wanted.Subnet && (wanted.Gateway || wanted.IPRange)) {
        throw new InvalidParameterError('a subnet is required with --gateway or --ip-range');
      }
      const wantSubnet = wanted?.Subnet ? parseCidr(wanted.Subnet, true) : undefined;
      const options = { ...(req.Options ?? {}) };
      const id = hex(32);
      const device = options['com.docker.network.bridge.name'] ?? `br-${id.slice(0, 12)}`;
      const internal = req.Internal ?? false;
      if (wantSubnet) makePlan(wantSubnet, wanted?.Gateway, wanted?.IPRange); // validate first
      const { subnet } = await this.reserve(wantSubnet, device, internal);
      const plan = makePlan(subnet, wanted?.Gateway, wanted?.IPRange);
      const rec: NetworkRecord = {
        Id: id,
        Name: name,
        Created: new Date().toISOString(),
        Driver: 'bridge',
        Internal: internal,
        Attachable: req.Attachable ?? false,
        EnableIPv6: false,
        IPAM: {
          Driver: 'default',
          Options: req.IPAM?.Options ?? {},
          Config: [
            {
              Subnet: formatCidr(subnet),
              Gateway: formatIPv4(plan.gateway),
              ...(wanted?.IPRange ? { IPRange: wanted.IPRange } : {}),
            },
          ],
        },
        Options: options,
        Labels: { ...(req.Labels ?? {}) },
        builtin: false,
        device,
        ...(wantSubnet ? { userSubnet: true } : {}),
      };
      this.networks.set(id, rec);
      this.store.saveNetwork(rec);
      try {
        await this.bringUp(rec);
      } catch (err) {
        this.networks.delete(id);
        this.store.deleteNetwork(id);
        await this.bringDown(rec).catch(() => undefined);
        throw err;
      }
      this.events.emit('network', 'create', id, { name, type: 'bridge' });
      return rec;
    });
  }

  removeNetwork(term: string): Promise<void> {
    return this.serial(async () => {
      const net = this.findNetwork(term);
      if (net.builtin) {
        throw new ForbiddenError(`${net.Name} is a pre-defined network and cannot be removed`);
      }
      if (this.hasActiveEndpoints(net.Id)) {
        throw new ForbiddenError(
          `error while removing network: network ${net.Name} id ${net.Id} has active endpoints`,
        );
      }
      await this.dropNetwork(net);
    });
  }

  private async dropNetwork(net: NetworkRecord): Promise<void> {
    await this.bringDown(net);
    this.networks.delete(net.Id);
    this.store.deleteNetwork(net.Id);
    for (const [id, entry] of this.containers) {
      if (entry.config.networks[net.Id]) {
        delete entry.config.networks[net.Id];
        this.store.saveConfig(id, entry.config);
      }
    }
    this.events.emit('network', 'destroy', net.Id, { name: net.Name, type: net.Driver });
  }

  /** Removes user-defined networks without active endpoints that `keep` accepts. */
  pruneNetworks(keep: (net: NetworkRecord) => boolean): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = [];
      for (const net of [...this.networks.values()]) {
        if (net.builtin || this.hasActiveEndpoints(net.Id) || !keep(net)) continue;
        await this.dropNetwork(net);
        removed.push(net.Name);
      }
      return removed;
    });
  }

  // ---- container configuration ---------------------------------------------------------------

  setContainerResolver(resolver: ContainerResolver): void {
    this.resolver = resolver;
  }

  private primaryName(mode: string): string {
    return mode === 'default' || mode === '' ? 'bridge' : mode;
  }

  /** The configuration a create request describes (validated), without storing it. */
  private configFor(req: SandboxRequest): ContainerConfig {
    const request = {
      containerId: req.containerId,
      name: req.name.replace(/^\//, ''),
      hostname: req.hostname,
      ...(req.domainname ? { domainname: req.domainname } : {}),
      networkMode: req.networkMode,
      exposedPorts: [...req.exposedPorts],
      portBindings: Object.fromEntries(
        Object.entries(req.portBindings ?? {}).map(([k, v]) => [k, [...(v ?? [])]]),
      ),
      publishAllPorts: req.publishAllPorts,
      ...(req.dns ? { dns: [...req.dns] } : {}),
      ...(req.dnsSearch ? { dnsSearch: [...req.dnsSearch] } : {}),
      ...(req.dnsOptions ? { dnsOptions: [...req.dnsOptions] } : {}),
      ...(req.extraHosts ? { extraHosts: [...req.extraHosts] } : {}),
    };
    planBindings(request); // refuses bad port specs at create, as Docker does
    return { request, networks: this.attachmentsFor(req) };
  }

  /** The networks a create request joins, by network id, checked as moby checks them. */
  private attachmentsFor(
    req: Pick<SandboxRequest, 'networkMode' | 'endpointsConfig'>,
  ): Record<string, Attachment> {
    const networks: Record<string, Attachment> = {};
    const mode = this.primaryName(req.networkMode);
    if (mode.startsWith('container:')) return networks;
    const primary = this.findNetwork(mode);
    const endpoints = req.endpointsConfig ?? {};
    const entries = Object.entries(endpoints);
    if (!entries.some(([k]) => this.findNetwork(k).Id === primary.Id)) entries.unshift([mode, {}]);
    for (const [key, ep] of entries) {
      const net = this.findNetwork(key);
      if (net.Driver !== 'bridge' && net.Id !== primary.Id) {
        throw new InvalidParameterError(
          `container cannot be connected to network ${net.Name} together with other networks`,
        );
      }
      networks[net.Id] = this.attachment(net, ep.Aliases ?? [], ep.IPAMConfig?.IPv4Address);
    }
    return networks;
  }

  private attachment(
    net: NetworkRecord,
    aliases: readonly string[],
    ip: string | undefined,
  ): Attachment {
    const user = this.isUserDefined(net);
    if (aliases.length > 0 && !user) {
      throw new InvalidParameterError(
        'network-scoped alias is supported only for containers in user defined networks',
      );
    }
    if (ip) {
      if (!user)
        throw new InvalidParameterError(
          'user specified IP address is supported on user defined networks only',
        );
      if (!net.userSubnet) {
        throw new InvalidParameterError(
          'user specified IP address is supported only when connecting to networks with user configured subnets',
        );
      }
      if (parseIPv4(ip) === undefined)
        throw new InvalidParameterError(`invalid IPv4 address: ${ip}`);
    }
    return { aliases: [...aliases], ...(ip ? { ipv4: ip } : {}) };
  }

  registerContainer(req: SandboxRequest): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const config = this.configFor(req);
      const entry = this.containers.get(req.containerId);
      if (entry?.live) await this.release(req.containerId);
      this.containers.set(req.containerId, { config });
      this.store.saveConfig(req.containerId, config);
      return this.settings(req.containerId) ?? {};
    });
  }

  /**
   * Records a container CORE made without registering it here: from its create request when
   * the resolver has it, else as a partial entry whose create-time networks are merged in at
   * its first createSandbox.
   */
  private adopt(containerId: string, name = ''): ContainerEntry {
    const req = this.resolver?.sandboxRequest?.(containerId);
    const entry: ContainerEntry = req
      ? { config: this.configFor(req) }
      : {
          config: {
            request: {
              containerId,
              name,
              hostname: containerId.slice(0, 12),
              networkMode: 'default',
              exposedPorts: [],
              portBindings: {},
              publishAllPorts: false,
            },
            networks: {},
            partial: true,
          },
        };
    this.containers.set(containerId, entry);
    this.store.saveConfig(containerId, entry.config);
    return entry;
  }

  renameContainer(containerId: string, newName: string): Promise<void> {
    return this.serial(async () => {
      const entry = this.containers.get(containerId);
      if (!entry) return;
      entry.config.request.name = newName.replace(/^\//, '');
      this.store.saveConfig(containerId, entry.config);
      if (entry.live) await this.refreshHostsFor(Object.keys(entry.live.state.endpoints));
    });
  }

  forgetContainer(containerId: string): Promise<void> {
    return this.serial(async () => {
      if (this.containers.get(containerId)?.live) await this.release(containerId);
      this.containers.delete(containerId);
      this.store.deleteContainer(containerId);
    });
  }

  async settingsFor(container: string | SandboxRequest): Promise<Record<string, unknown>> {
    if (typeof container === 'string') {
      await this.ready();
      return this.settings(container) ?? {};
    }
    await this.ready();
    const id = container.containerId;
    // Not known yet (CORE is still creating it): what it would show, without recording it.
    return (
      this.settings(id, this.containers.get(id) ?? { config: this.configFor(container) }) ?? {}
    );
  }

  async validate(req: Pick<SandboxRequest, 'networkMode' | 'endpointsConfig'>): Promise<void> {
    await this.ready();
    this.attachmentsFor(req);
  }

  private settings(
    containerId: string,
    entry = this.containers.get(containerId),
  ): Record<string, unknown> | undefined {
    if (!entry) return undefined;
    const { config, live } = entry;
    const networks: Record<string, unknown> = {};
    let top = { EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' };
    for (const [netId, att] of Object.entries(config.networks)) {
      const net = this.networks.get(netId);
      if (!net) continue;
      const ep = live?.state.endpoints[netId];
      const plan = ep ? this.plan(net) : undefined;
      const user = this.isUserDefined(net);
      const aliases = user ? [...att.aliases, ...(ep ? [containerId.slice(0, 12)] : [])] : null;
      const settings = {
        IPAMConfig: att.ipv4 ? { IPv4Address: att.ipv4 } : null,
        Links: null,
        Aliases: aliases && aliases.length > 0 ? aliases : null,
        NetworkID: net.Id,
        EndpointID: ep?.endpointId ?? '',
        Gateway: plan ? formatIPv4(plan.gateway) : '',
        IPAddress: ep?.ip ?? '',
        IPPrefixLen: plan?.subnet.prefix ?? 0,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        MacAddress: ep?.mac ?? '',
        DriverOpts: null,
      };
      networks[net.Name] = settings;
      if (net.builtin && net.Name === 'bridge') {
        top = {
          EndpointID: settings.EndpointID,
          Gateway: settings.Gateway,
          IPAddress: settings.IPAddress,
          IPPrefixLen: settings.IPPrefixLen,
          MacAddress: settings.MacAddress,
        };
      }
    }
    return {
      Bridge: '',
      SandboxID: live?.state.netnsPath ? containerId : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: live ? portMap(config.request.exposedPorts, live.state.ports) : {},
      SandboxKey: live?.state.netnsPath ?? '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPv6Gateway: '',
      ...top,
      Networks: networks,
    };
  }

  // ---- sandboxes -----------------------------------------------------------------------------

  private paths(containerId: string): {
    hostsPath: string;
    resolvConfPath: string;
    hostnamePath: string;
  } {
    const dir = this.store.containerDir(containerId);
    return {
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
      hostnamePath: join(dir, 'hostname'),
    };
  }

  createSandbox(req: SandboxRequest): Promise<Sandbox> {
    return this.serial(async () => {
      let entry = this.containers.get(req.containerId);
      if (entry?.live) await this.release(req.containerId);
      if (!entry) {
        entry = { config: this.configFor(req) };
        this.containers.set(req.containerId, entry);
      } else {
        // Keep the networks (connect/disconnect changed them); take the rest from the request.
        const fresh = this.configFor(req);
        const removed = new Set(entry.config.removed ?? []);
        const networks = entry.config.partial
          ? {
              ...Object.fromEntries(
                Object.entries(fresh.networks).filter(([k]) => !removed.has(k)),
              ),
              ...entry.config.networks,
            }
          : entry.config.networks;
        entry.config = { ...fresh, networks };
      }
      this.store.saveConfig(req.containerId, entry.config);
      const live: Live = { state: { endpoints: {}, ports: [] }, proxies: [] };
      try {
        await this.buildSandbox(req.containerId, entry, live);
      } catch (err) {
        entry.live = live;
        await this.release(req.containerId).catch((e: unknown) =>
          this.log.warn('cleanup after a failed sandbox', { err: e }),
        );
        throw err;
      }
      return {
        ...this.paths(req.containerId),
        ...(live.state.netnsPath ? { netnsPath: live.state.netnsPath } : {}),
        networkSettings: this.settings(req.containerId) ?? {},
      };
    });
  }

  private async buildSandbox(id: string, entry: ContainerEntry, live: Live): Promise<void> {
    const { request } = entry.config;
    const mode = this.primaryName(request.networkMode);
    const paths = this.paths(id);
    mkdirSync(this.store.containerDir(id), { recursive: true });
    writeFileSync(paths.hostnamePath, `${request.hostname}\n`);
    const isHost =
      mode === 'host' ||
      this.networks.get(Object.keys(entry.config.networks)[0] ?? '')?.Driver === 'host';
    if (isHost) {
      writeFileSync(paths.hostsPath, hostModeHostsFile(request.hostname));
      const dns = this.dnsOpts(request);
      writeFileSync(
        paths.resolvConfPath,
        Object.keys(dns).length > 0 ? resolvConf(this.hostResolv, dns) : hostResolvText(),
      );
      entry.live = live;
      this.store.saveSandbox(id, live.state);
      return;
    }
    const netnsPath = join(this.netnsDir, id);
    live.state.netnsPath = netnsPath;
    entry.live = live;
    this.store.saveSandbox(id, live.state);
    const veths: VethSpec[] = [];
    let networkDns: string | undefined;
    for (const netId of Object.keys(entry.config.networks)) {
      const net = this.networks.get(netId);
      if (!net || net.Driver !== 'bridge') continue;
      const veth = await this.planEndpoint(entry, net);
      if (veth) veths.push(veth);
      if (!networkDns && this.isUserDefined(net) && this.dns.has(net.Id)) {
        networkDns = net.IPAM.Config[0]?.Gateway;
      }
    }
    await setupSandbox(netnsPath, true, veths);
    this.store.saveSandbox(id, live.state);
    await this.openPorts(id, entry, live);
    writeFileSync(
      paths.resolvConfPath,
      resolvConf(this.hostResolv, {
        ...this.dnsOpts(request),
        ...(networkDns && !request.dns?.length ? { networkDns } : {}),
      }),
    );
    writeFileSync(paths.hostsPath, '');
    await this.refreshHostsFor(Object.keys(live.state.endpoints), id);
    for (const netId of Object.keys(live.state.endpoints)) {
      const net = this.networks.get(netId);
      if (net)
        this.events.emit('network', 'connect', net.Id, {
          container: id,
          name: net.Name,
          type: net.Driver,
        });
    }
  }

  private dnsOpts(request: ContainerConfig['request']) {
    return {
      ...(request.dns ? { dns: request.dns } : {}),
      ...(request.dnsSearch ? { dnsSearch: request.dnsSearch } : {}),
      ...(request.dnsOptions ? { dnsOptions: request.dnsOptions } : {}),
    };
  }

  /**
   * Allocates an address on `net` for the container and records the endpoint (so the next
   * allocation sees it); returns the veth to plug, or undefined when there is nothing to plug.
   */
  private async planEndpoint(
    entry: ContainerEntry,
    net: NetworkRecord,
  ): Promise<VethSpec | undefined> {
    const live = entry.live;
    const plan = this.plan(net);
    if (!live?.state.netnsPath || !plan || !net.device) return undefined;
    await this.bringUp(net);
    const inUse = new Set(this.endpointsOn(net.Id).map((e) => parseIPv4(e.ep.ip) ?? 0));
    const att = entry.config.networks[net.Id];
    const requested = att?.ipv4 ? parseIPv4(att.ipv4) : undefined;
    const ip = allocateAddress(plan, inUse, requested, net.Name, net.Id);
    const used = new Set(Object.values(live.state.endpoints).map((e) => e.ifName));
    let n = 0;
    while (used.has(`eth${n}`)) n++;
    const ep: Endpoint = {
      endpointId: hex(32),
      ip: formatIPv4(ip),
      mac: macFromIp(ip),
      ifName: `eth${n}`,
      hostVeth: `veth${hex(4).slice(0, 7)}`,
    };
    const hasDefault = Object.values(live.state.endpoints).length > 0;
    live.state.endpoints[net.Id] = ep;
    return {
      hostName: ep.hostVeth,
      bridge: net.device,
      netnsPath: live.state.netnsPath,
      ifName: ep.ifName,
      addressCidr: `${ep.ip}/${plan.subnet.prefix}`,
      mac: ep.mac,
      ...(hasDefault || net.Internal ? {} : { defaultVia: formatIPv4(plan.gateway) }),
    };
  }

  private async openPorts(id: string, entry: ContainerEntry, live: Live): Promise<void> {
    const planned = planBindings(entry.config.request, this.opts.defaultBindIp);
    if (planned.length === 0) return;
    const target = Object.values(live.state.endpoints)[0];
    if (!target) return; // none/internal without address: nothing to forward to
    for (const p of planned) {
      if (p.container.proto === 'sctp') continue;
      const range = p.hostPorts ?? { start: 0, end: 0 };
      let lastErr: unknown;
      let opened: PortProxy | undefined;
      for (let port = range.start; port <= range.end && !opened; port++) {
        try {
          opened = await openProxy({
            hostIp: p.hostIp,
            hostPort: port,
            proto: p.container.proto,
            targetIp: target.ip,
            targetPort: p.container.port,
          });
        } catch (err) {
          lastErr = err;
        }
      }
      if (!opened) {
        const code = (lastErr as NodeJS.ErrnoException | undefined)?.code;
        const shown =
          range.start === range.end ? String(range.start) : `${range.start}-${range.end}`;
        const why =
          code === 'EADDRINUSE'
            ? 'port is already allocated'
            : ((lastErr as Error | undefined)?.message ?? 'failed');
        throw new SystemError(
          `driver failed programming external connectivity on endpoint ${entry.config.request.name} (${target.endpointId}): Bind for ${p.hostIp}:${shown} failed: ${why}`,
        );
      }
      live.proxies.push(opened);
      const binding: OpenBinding = {
        container: p.container,
        hostIp: p.hostIp,
        hostPort: opened.hostPort,
      };
      live.state.ports.push(binding);
    }
    this.store.saveSandbox(id, live.state);
  }

  /** Rewrites /etc/hosts of every running container on the networks, plus `also`. */
  private async refreshHostsFor(networkIds: readonly string[], also?: string): Promise<void> {
    const targets = new Set<string>(also ? [also] : []);
    for (const netId of networkIds) {
      const net = this.networks.get(netId);
      if (!net || !this.isUserDefined(net)) continue;
      for (const { id } of this.endpointsOn(netId)) targets.add(id);
    }
    for (const id of targets) {
      try {
        rewriteInPlace(this.paths(id).hostsPath, hostsFile(this.hostsEntries(id)));
      } catch (err) {
        this.log.warn('cannot update a hosts file', { container: id, err });
      }
    }
    await Promise.resolve();
  }

  private hostsEntries(id: string): HostsEntry[] {
    const entry = this.containers.get(id);
    if (!entry?.live) return [];
    const { request } = entry.config;
    const endpoints = Object.entries(entry.live.state.endpoints);
    const firstGateway = endpoints[0]
      ? this.networks.get(endpoints[0][0])?.IPAM.Config[0]?.Gateway
      : undefined;
    const gatewayIp = this.opts.hostGatewayIp;
    const out = extraHostEntries(request.extraHosts ?? [], gatewayIp ?? firstGateway, gatewayIp);
    const own = endpoints[0]?.[1].ip;
    if (own) {
      const fqdn = request.domainname ? [`${request.hostname}.${request.domainname}`] : [];
      out.push({ ip: own, names: [...fqdn, request.hostname] });
    }
    for (const [netId] of endpoints) {
      const net = this.networks.get(netId);
      if (!net || !this.isUserDefined(net)) continue;
      for (const peer of this.endpointsOn(netId)) {
        if (peer.id === id) continue;
        const aliases = peer.entry.config.networks[netId]?.aliases ?? [];
        out.push({ ip: peer.ep.ip, names: [peer.entry.config.request.name, ...aliases] });
      }
    }
    return out;
  }

  /** DNS answers on a user network: container names, aliases and short ids. */
  private resolveName(networkId: string, name: string): number[] | undefined {
    const q = name.toLowerCase();
    const ips: number[] = [];
    for (const { id, entry, ep } of this.endpointsOn(networkId)) {
      const names = [
        entry.config.request.name,
        ...(entry.config.networks[networkId]?.aliases ?? []),
        id.slice(0, 12),
      ];
      if (names.some((n) => n.toLowerCase() === q)) {
        const ip = parseIPv4(ep.ip);
        if (ip !== undefined) ips.push(ip);
      }
    }
    return ips.length > 0 ? ips : undefined;
  }

  private background(work: Promise<void>, what: string): void {
    const p = work
      .catch((err: unknown) => this.log.warn(what, { err }))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  releaseSandbox(containerId: string): Promise<void> {
    return this.serial(() => this.release(containerId));
  }

  private async release(containerId: string): Promise<void> {
    const entry = this.containers.get(containerId);
    const live = entry?.live;
    if (!entry || !live) return;
    await Promise.all(live.proxies.map((p) => p.close().catch(() => undefined)));
    live.proxies = [];
    // The veths die with the namespace; deleting them explicitly (in the background: the
    // kernel waits for RCU there) covers a namespace something else still holds.
    const veths = Object.values(live.state.endpoints).map((ep) => ep.hostVeth);
    this.background(dropLinks(veths), 'cannot delete a veth');
    if (live.state.netnsPath) {
      try {
        deleteNetns(live.state.netnsPath);
      } catch (err) {
        this.log.warn('cannot remove a network namespace', { path: live.state.netnsPath, err });
      }
    }
    const networkIds = Object.keys(live.state.endpoints);
    entry.live = undefined;
    this.store.saveSandbox(containerId, undefined);
    await this.refreshHostsFor(networkIds);
    for (const netId of networkIds) {
      const net = this.networks.get(netId);
      if (net)
        this.events.emit('network', 'disconnect', net.Id, {
          container: containerId,
          name: net.Name,
          type: net.Driver,
        });
    }
  }

  // ---- connect / disconnect ------------------------------------------------------------------

  private async container(term: string): Promise<{ id: string; name: string; running: boolean }> {
    const found = await this.resolver?.resolve(term);
    if (!found) throw new NotFoundError(`No such container: ${term}`);
    return found;
  }

  connect(
    netTerm: string,
    containerTerm: string,
    ep: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string } | null },
  ): Promise<void> {
    return this.serial(async () => {
      const net = this.findNetwork(netTerm);
      const c = await this.container(containerTerm);
      const entry = this.containers.get(c.id) ?? this.adopt(c.id, c.name);
      const mode = this.primaryName(entry.config.request.networkMode);
      if (net.Driver === 'host' || mode === 'host') {
        throw new ForbiddenError(
          'container cannot be disconnected from host network or connected to host network',
        );
      }
      if (net.Driver === 'null' || mode === 'none' || mode.startsWith('container:')) {
        throw new ForbiddenError(
          'container sharing network namespace with another container or host cannot be connected to any other network',
        );
      }
      if (entry.config.networks[net.Id]) {
        throw new ForbiddenError(
          `endpoint with name ${entry.config.request.name} already exists in network ${net.Name}`,
        );
      }
      entry.config.networks[net.Id] = this.attachment(
        net,
        ep.Aliases ?? [],
        ep.IPAMConfig?.IPv4Address,
      );
      if (entry.live?.state.netnsPath) {
        const live = entry.live;
        const netnsPath = entry.live.state.netnsPath;
        try {
          const veth = await this.planEndpoint(entry, net);
          if (veth) await setupSandbox(netnsPath, false, [veth]);
          this.store.saveSandbox(c.id, live.state);
        } catch (err) {
          delete entry.config.networks[net.Id];
          delete live.state.endpoints[net.Id];
          throw err;
        }
        await this.refreshHostsFor([net.Id], c.id);
        this.events.emit('network', 'connect', net.Id, {
          container: c.id,
          name: net.Name,
          type: net.Driver,
        });
      }
      this.store.saveConfig(c.id, entry.config);
      this.resolver?.networkSettingsChanged?.(c.id, this.settings(c.id) ?? {});
    });
  }

  disconnect(netTerm: string, containerTerm: string, force: boolean): Promise<void> {
    return this.serial(async () => {
      const net = this.findNetwork(netTerm);
      const found = await this.resolver?.resolve(containerTerm);
      if (!found && !force) throw new NotFoundError(`No such container: ${containerTerm}`);
      const id = found?.id ?? containerTerm;
      let entry = this.containers.get(id);
      if (!entry && found) {
        // Created without registering here (its create request unknown): remember that this
        // network is off, for when its create-time networks are merged in at start.
        entry = this.adopt(id, found.name);
        if (entry.config.partial) {
          entry.config.removed = [...(entry.config.removed ?? []), net.Id];
          this.store.saveConfig(id, entry.config);
          this.resolver?.networkSettingsChanged?.(id, this.settings(id) ?? {});
          return;
        }
      }
      if (!entry?.config.networks[net.Id]) {
        throw new ForbiddenError(
          `container ${found?.id ?? containerTerm} is not connected to network ${net.Name}`,
        );
      }
      if (net.Driver === 'host') {
        throw new ForbiddenError(
          'container cannot be disconnected from host network or connected to host network',
        );
      }
      delete entry.config.networks[net.Id];
      this.store.saveConfig(id, entry.config);
      const ep = entry.live?.state.endpoints[net.Id];
      if (entry.live && ep) {
        await dropLinks([ep.hostVeth]);
        delete entry.live.state.endpoints[net.Id];
        this.store.saveSandbox(id, entry.live.state);
        await this.refreshHostsFor([net.Id], id);
        this.events.emit('network', 'disconnect', net.Id, {
          container: id,
          name: net.Name,
          type: net.Driver,
        });
      }
      this.resolver?.networkSettingsChanged?.(id, this.settings(id) ?? {});
    });
  }

  // ---- daemon lifecycle ----------------------------------------------------------------------

  repair(): Promise<void> {
    return this.serial(async () => {
      for (const [id, entry] of this.containers) {
        if (!entry.live) continue;
        const running = this.resolver ? (await this.resolver.resolve(id))?.running === true : false;
        if (!this.resolver) {
          this.log.warn('network repair without a container resolver: keeping sandboxes');
          continue;
        }
        if (!running) {
          await this.release(id);
          continue;
        }
        for (const netId of Object.keys(entry.live.state.endpoints)) {
          const net = this.networks.get(netId);
          if (net) await this.bringUp(net);
        }
        const ports = entry.live.state.ports;
        entry.live.state.ports = [];
        const target = Object.values(entry.live.state.endpoints)[0];
        for (const b of ports) {
          if (!target || b.container.proto === 'sctp') continue;
          try {
            entry.live.proxies.push(
              await openProxy({
                hostIp: b.hostIp,
                hostPort: b.hostPort,
                proto: b.container.proto,
                targetIp: target.ip,
                targetPort: b.container.port,
              }),
            );
            entry.live.state.ports.push(b);
          } catch (err) {
            this.log.warn('cannot reopen a published port', {
              container: id,
              port: b.hostPort,
              err,
            });
          }
        }
        this.store.saveSandbox(id, entry.live.state);
      }
      for (const net of this.networks.values()) {
        if (this.isUserDefined(net)) {
          await this.bringUp(net).catch((err: unknown) =>
            this.log.warn('cannot bring a network up', { network: net.Name, err }),
          );
        }
      }
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      await Promise.all([...this.pending]);
      for (const server of this.dns.values()) await server.close();
      this.dns.clear();
      this.up.clear();
      for (const entry of this.containers.values()) {
        for (const p of entry.live?.proxies ?? []) await p.close().catch(() => undefined);
        if (entry.live) entry.live.proxies = [];
      }
    });
  }

  /**
   * Removes every bridge, NAT rule, namespace and listener this data root made: for tests and
   * for uninstalling. Networks stay in the store; the next start brings them back.
   */
  teardownAll(): Promise<void> {
    return this.serial(async () => {
      for (const id of [...this.containers.keys()]) await this.release(id);
      await Promise.all([...this.pending]);
      for (const net of this.networks.values()) await this.bringDown(net);
    });
  }
}
