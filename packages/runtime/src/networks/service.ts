/**
 * The seam between containers (CORE) and container networking. CORE asks for a sandbox before
 * the runtime creates a container and releases it when the container stopped; everything in
 * between (netns, veths, bridges, IPAM, NAT, DNS, published-port proxies, hosts files) is ours.
 *
 * Terms: a *network* is a Docker network (bridge/host/none or user-defined); an *endpoint* is one
 * container's attachment to one network (an IP, a MAC, a veth); a *sandbox* is the container's
 * network namespace plus its generated /etc/hosts, /etc/resolv.conf and /etc/hostname.
 */
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { NetworkManager } from './manager.js';

export interface EndpointRequest {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string } | null;
}

export interface SandboxRequest {
  containerId: string;
  /** Container name without the leading slash. */
  name: string;
  hostname: string;
  domainname?: string;
  /** HostConfig.NetworkMode: 'default'|'bridge'|'host'|'none'|<network name or id>. CORE resolves
   *  'container:<id>' itself by reusing that container's netns path. */
  networkMode: string;
  /** NetworkingConfig.EndpointsConfig of the create request, keyed by network name or id. */
  endpointsConfig?: Record<string, EndpointRequest>;
  /** Config.ExposedPorts keys, e.g. "80/tcp". */
  exposedPorts: string[];
  /** HostConfig.PortBindings. */
  portBindings: Record<string, { HostIp?: string; HostPort?: string }[]>;
  /** HostConfig.PublishAllPorts (`-P`). */
  publishAllPorts: boolean;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** HostConfig.ExtraHosts: "name:ip" (or "name=ip"). */
  extraHosts?: string[];
}

export interface Sandbox {
  /** Path of the network namespace to join (bind-mounted under the exec root); undefined = host. */
  netnsPath?: string;
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  /** Docker's NetworkSettings for inspect/ps: Ports, Networks{name: EndpointSettings},
   *  IPAddress, Gateway, MacAddress, SandboxKey... */
  networkSettings: Record<string, unknown>;
}

/** What the network routes need to know about containers; CORE implements it. */
export interface ContainerResolver {
  /** Finds a container by full id, unique id prefix or name (with or without '/'). */
  resolve(nameOrId: string): Promise<{ id: string; name: string; running: boolean } | undefined>;
  /** Told after `docker network connect/disconnect` changed a container's NetworkSettings
   *  (CORE keeps them in its record for inspect and ps). */
  networkSettingsChanged?(containerId: string, settings: Record<string, unknown>): void;
  /** The create-time request of a container never registered here (so `docker network
   *  connect` works on a created container even when registerContainer was not called). */
  sandboxRequest?(containerId: string): SandboxRequest | undefined;
}

export interface NetworkService {
  /**
   * At daemon start, after CORE's container store is readable (the resolver is set): recreates
   * the bridges (NAT, DNS servers) of existing networks, drops veths/netns/endpoints of
   * containers that are not running, and re-opens the published-port listeners of containers
   * that kept running.
   */
  repair(): Promise<void>;
  /**
   * At container create: validates NetworkMode/EndpointsConfig (404 "network x not found",
   * 400 for bad options) and records which networks the container joins (later changed by
   * `docker network connect/disconnect`). Returns the NetworkSettings of a created container.
   */
  registerContainer(req: SandboxRequest): Promise<Record<string, unknown>>;
  /** Called by CORE before the runtime creates the container; undone by releaseSandbox.
   *  Uses the networks recorded by registerContainer (registering first when not yet known). */
  createSandbox(req: SandboxRequest): Promise<Sandbox>;
  /** Called by CORE when the container stopped (or its create failed): veths, netns, port
   *  listeners and IPs go; the container's network configuration stays. Idempotent. */
  releaseSandbox(containerId: string): Promise<void>;
  /**
   * NetworkSettings to show for a container: live while it has a sandbox, else configured (no
   * IPs). Given a request for a container not yet known, registers it first (as
   * registerContainer); given an id not known, resolves to {}.
   */
  settingsFor(container: string | SandboxRequest): Promise<Record<string, unknown>>;
  /** Validates a create request's NetworkMode/EndpointsConfig (404 "network x not found",
   *  400 for aliases/addresses where Docker refuses them) without recording anything. */
  validate(req: Pick<SandboxRequest, 'networkMode' | 'endpointsConfig'>): Promise<void>;
  /** Called by CORE on `docker rename`: hosts files and DNS answer to the new name. */
  renameContainer(containerId: string, newName: string): Promise<void>;
  /** Called by CORE when a container is removed: forgets its network configuration. */
  forgetContainer(containerId: string): Promise<void>;
  /** Lets the routes and repair resolve containers; CORE calls it once its store exists. */
  setContainerResolver(resolver: ContainerResolver): void;
  /** Closes DNS servers and port listeners at daemon shutdown (kernel state stays). */
  close(): Promise<void>;
}

export interface NetworkServiceOptions {
  /** The `--data-root`; networks live in `<dataRoot>/networks/`. */
  dataRoot: string;
  /** The `--exec-root`; netns files live in `<execRoot>/netns/`. */
  execRoot: string;
  events: EventBus;
  logger: Logger;
  /** Host-wide state shared by all berthd instances on this machine (default /run/berth). */
  hostStateDir?: string;
  /**
   * dockerd's `--host-gateway-ip`: the address of `host-gateway` in ExtraHosts; when set,
   * containers also get `host.docker.internal` → it, as in Docker Desktop.
   */
  hostGatewayIp?: string;
  /**
   * dockerd's `--ip`: where a port published without an address listens (default 127.0.0.1;
   * Berth's VM uses 0.0.0.0 so that QEMU's hostfwd reaches it at the guest's own address).
   */
  defaultBindIp?: string;
}

/** Builds the service (nothing touches the kernel until the first network is used). */
export function createNetworkService(opts: NetworkServiceOptions): NetworkManager {
  return new NetworkManager(opts);
}
