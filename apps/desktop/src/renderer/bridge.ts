/**
 * `window.berth` for the renderer. In Electron the preload has set it already; in a browser
 * (the dashboard) the same API is carried over a WebSocket to the dashboard server, which has
 * checked this page's cookie and origin. A dropped socket fails the pending calls and is
 * opened again, so the UI shows "engine unreachable" rather than hanging.
 */
import {
  createClient,
  DASHBOARD_WS_PATH,
  type BerthApi,
  type ClientFrame,
  type EventName,
  type EventPayload,
} from '../shared/contract.js';

declare global {
  interface Window {
    berth?: BerthApi;
  }
}

export interface Connection {
  api: BerthApi;
  /** Called with true/false as the transport comes and goes. */
  onConnection(listener: (up: boolean) => void): () => void;
}

function websocketBridge(): Connection {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${DASHBOARD_WS_PATH}`;
  const connListeners = new Set<(up: boolean) => void>();
  let ws: WebSocket | undefined;
  let queue: ClientFrame[] = [];
  let retryMs = 250;

  const client = createClient((frame) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    else queue.push(frame);
  });

  const open = () => {
    const socket = new WebSocket(url);
    ws = socket;
    socket.onopen = () => {
      retryMs = 250;
      for (const f of queue) socket.send(JSON.stringify(f));
      queue = [];
      for (const l of connListeners) l(true);
    };
    socket.onmessage = (m: MessageEvent<string>) => client.receive(JSON.parse(m.data));
    socket.onclose = () => {
      client.failAll({
        name: 'ConnectionError',
        message: 'Lost the connection to the Berth dashboard server.',
      });
      for (const l of connListeners) l(false);
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  };
  open();

  return {
    api: client.api,
    onConnection(listener) {
      connListeners.add(listener);
      return () => connListeners.delete(listener);
    },
  };
}

export function connect(): Connection {
  if (window.berth) {
    const api = window.berth;
    return { api, onConnection: () => () => undefined };
  }
  return websocketBridge();
}

export type { BerthApi, EventName, EventPayload };
