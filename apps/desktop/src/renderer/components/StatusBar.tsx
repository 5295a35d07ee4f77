import { formatBytes, plural } from '../format.js';
import { useEngineStatus } from '../state.js';

/** The engine's state as a coloured dot and words, with its size and load. */
export function StatusBar(props: { connected: boolean }) {
  const status = useEngineStatus();
  const state = !props.connected ? 'disconnected' : (status?.state ?? 'connecting');
  const words: Record<string, string> = {
    running: 'Engine running',
    unreachable: 'Engine unreachable',
    connecting: 'Connecting…',
    disconnected: 'Dashboard server disconnected',
  };
  return (
    <footer className="statusbar" aria-label="Engine status">
      <span className={`dot dot-${state}`} aria-hidden="true" />
      <span data-testid="engine-state">{words[state]}</span>
      {status?.state === 'running' && (
        <>
          <span className="sep">·</span>
          <span>Berth {status.version}</span>
          <span className="sep">·</span>
          <span>
            {status.cpus} CPUs, {formatBytes(status.memTotal ?? 0)} memory
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
