export * from './driver.js';
export * from './settings.js';
export * from './paths.js';
export * from './keys.js';
export * from './progress.js';
export * from './image.js';
export * from './machine.js';
export * from './registry.js';
export { AgentLink, type AgentLinkOptions } from './bridge/agent-link.js';
export { EngineSocket, type EngineSocketOptions } from './bridge/engine-socket.js';
export { AgentEvents } from './bridge/agent-events.js';
export { PortForwarder, hostListenAddress } from './ports/forwarder.js';
export {
  startInBackground,
  parseHostLogLine,
  type BackgroundStartOptions,
} from './host/background.js';
export { qemuDriver, type QemuDriverOptions } from './drivers/qemu/qemu.js';
export { vzDriver, type VzDriverOptions } from './drivers/vz/vz.darwin.js';
export { vzConfiguration, type VzConfig } from './drivers/vz/vz-config.js';
export { hypervDriver, type HyperVDriverOptions } from './drivers/hyperv/hyperv.win32.js';
