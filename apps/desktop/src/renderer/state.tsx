/** React glue over `window.berth`: the API in a context, the engine status, reloading lists. */
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Connection } from './bridge.js';
import type { EngineStatus, Method, Params, Result } from '../shared/contract.js';

const BerthContext = createContext<Connection | undefined>(undefined);

export function BerthProvider(props: { connection: Connection; children: ReactNode }) {
  return <BerthContext.Provider value={props.connection}>{props.children}</BerthContext.Provider>;
}

export function useBerth(): Connection['api'] {
  const c = useContext(BerthContext);
  if (!c) throw new Error('useBerth outside BerthProvider');
  return c.api;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function useEngineStatus(): EngineStatus | undefined {
  const berth = useBerth();
  const [status, setStatus] = useState<EngineStatus>();
  useEffect(() => {
    const off = berth.on('engine.status', setStatus);
    berth.invoke('engine.status', {}).then(setStatus, () => undefined);
    return off;
  }, [berth]);
  return status;
}

type ListMethod = 'containers.list' | 'images.list' | 'volumes.list' | 'networks.list';

export interface Loaded<M extends Method> {
  data: Result<M> | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * A list that reloads itself when the engine reports a change of one of `eventTypes` (e.g.
 * `image`), and when the engine comes back.
 */
export function useList<M extends ListMethod>(method: M, eventTypes: readonly string[]): Loaded<M> {
  const berth = useBerth();
  const [state, setState] = useState<{ data?: Result<M>; error?: string; loading: boolean }>({
    loading: true,
  });
  const reload = useCallback(() => {
    berth.invoke(method, {} as Params<M>).then(
      (data) => setState({ data: data, loading: false }),
      (e: unknown) => setState((s) => ({ data: s.data, error: errorText(e), loading: false })),
    );
  }, [berth, method]);
  // Joined, so that a new array literal with the same types does not subscribe again.
  const typesKey = eventTypes.join(',');
  useEffect(() => {
    const types = typesKey.split(',');
    reload();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Bursts of events (a pull tags, a run creates and starts) cause one reload.
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(reload, 150);
    };
    const offEvent = berth.on('engine.event', (ev) => {
      if (types.includes(ev.type)) soon();
    });
    const offStatus = berth.on('engine.status', soon);
    return () => {
      clearTimeout(timer);
      offEvent();
      offStatus();
    };
  }, [berth, reload, typesKey]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Runs an action, keeping its error (the engine's text) to show next to the control. */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  run: (fn: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}
