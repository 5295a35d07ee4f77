import { useEffect, useState } from 'react';
import type { Usage } from '../../shared/contract.js';
import { formatBytes, plural } from '../format.js';
import { useBerth, useEngineStatus } from '../state.js';

const USAGE_EVERY_MS = 5000;

/** What the running containers use, sampled while the engine runs. */
function useUsage(running: boolean): Usage | undefined {
  const berth = useBerth();
  const [usage, setUsage] = useState<Usage>();
  useEffect(() => {
    if (!running) {
      setUsage(undefined);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const tick = () => {
      berth
        .invoke('engine.usage', {})
        .then(setUsage, () => undefined)
        .finally(() => {
          if (!stopped) timer = setTimeout(tick, USAGE_EVERY_MS);
        });
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [berth, running]);
  return usage;
}

/** The engine's state as a coloured dot and words, its boot progress, size and load. */
export function StatusBar(props: { connected: boolean }) {
  const status = useEngineStatus();
  const booting = status?.state !== 'running' && status?.boot !== undefined;
  const state = !props.connected
    ? 'disconnected'
    : booting
      ? 'starting'
      : (status?.state ?? 'connecting');
  const usage = useUsage(state === 'running');
  const words: Record<string, string> = {
    running: 'Engine running',
    unreachable: 'Engine unreachable',
    starting: 'Engine starting',
    connecting: 'Connecting…',
    disconnected: 'Dashboard server disconnected',
  };
  return (
    <footer className="statusbar" aria-label="Engine status">
      <span className={`dot dot-${state}`} aria-hidden="true" />
      <span data-testid="engine-state">{words[state]}</span>
      {status?.mode && (
        <span className="muted">{status.mode === 'vm' ? '(Berth VM)' : '(native)'}</span>
      )}
      {booting && status.boot && (
        <>
          <progress
            className="boot"
            max={100}
            value={status.boot.percent}
            aria-label="Engine start progress"
          />
          <span>{status.boot.message}</span>
        </>
      )}
      {status?.state === 'running' && (
        <>
          <span className="sep">·</span>
          <span>Berth {status.version}</span>
          <span className="sep">·</span>
          <span data-testid="engine-usage">
            CPU {usage ? `${usage.cpuPercent.toFixed(1)} %` : '…'} of {status.cpus} · memory{' '}
            {usage ? formatBytes(usage.memUsed) : '…'} of {formatBytes(status.memTotal ?? 0)}
          </span>
          <span className="sep">·</span>
          <span>
            {status.containersRunning ?? 0} running / {plural(status.containers ?? 0, 'container')},{' '}
            {plural(status.images ?? 0, 'image')}
          </span>
        </>
      )}
      {status?.state === 'unreachable' && state === 'unreachable' && (
        <span className="muted" title={status.message}>
          {status.message}
        </span>
      )}
      <span className="grow" />
      <span className="muted">{status?.host}</span>
    </footer>
  );
}
