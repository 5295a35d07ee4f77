/**
 * Electron's preload: exposes `window.berth` (BerthApi) to the sandboxed renderer. It is the
 * contract's own client carried over two IPC channels, so nothing here knows a method name.
 * Bundled into one CommonJS file (vite.preload.config.mjs), as sandboxed preloads must be.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createClient, IPC, type BerthApi } from '../shared/contract.js';

const client = createClient((frame) => ipcRenderer.send(IPC.call, frame));
ipcRenderer.on(IPC.frame, (_event, frame: unknown) => client.receive(frame));

// contextBridge copies plain objects with functions; a class instance would arrive empty.
const berth: BerthApi = {
  invoke: (method, params) => client.api.invoke(method, params),
  on: (event, listener) => client.api.on(event, listener),
};
contextBridge.exposeInMainWorld('berth', berth);
