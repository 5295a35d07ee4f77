/**
 * A terminal into a running container: xterm.js on a `terminal.*` exec session with a TTY.
 * Keystrokes go out as `terminal.input`, the screen's bytes come back as `terminal.data`, and
 * the pane's size follows the view (fit addon → `terminal.resize`).
 */
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { ErrorBanner } from '../components/common.js';
import { newId } from '../format.js';
import { errorText, useBerth } from '../state.js';

const THEME = {
  background: '#0f1217',
  foreground: '#d7dde6',
  cursor: '#4d8ff0',
  selectionBackground: '#3a4a66',
};

export function TerminalView(props: { id: string; running: boolean }) {
  const berth = useBerth();
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<'connecting' | 'open' | 'exited'>('connecting');
  const [error, setError] = useState<string>();
  // Bumped by "Reconnect": a new exec session in a new terminal.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const el = host.current;
    if (!el || !props.running) return;
    setState('connecting');
    setError(undefined);
    const term = new Terminal({
      cursorBlink: true,
      fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace",
      fontSize: 13,
      theme: THEME,
      scrollback: 5000,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    const termId = newId('term');
    let opened = false;
    let disposed = false;
    const offData = berth.on('terminal.data', (d) => {
      if (d.termId === termId) term.write(d.data);
    });
    const offExit = berth.on('terminal.exit', (e) => {
      if (e.termId !== termId || disposed) return;
      setState('exited');
      if (e.error) setError(e.error);
      term.write('\r\n\x1b[2m[the shell exited]\x1b[0m\r\n');
    });
    const input = term.onData((data) => {
      if (opened) void berth.invoke('terminal.input', { termId, data }).catch(() => undefined);
    });
    const resize = term.onResize(({ cols, rows }) => {
      if (opened)
        void berth.invoke('terminal.resize', { termId, cols, rows }).catch(() => undefined);
    });
    berth.invoke('terminal.open', { termId, id: props.id, cols: term.cols, rows: term.rows }).then(
      () => {
        if (disposed) return;
        opened = true;
        setState('open');
        term.focus();
        // The pane may have changed size while the exec was being created.
        void berth
          .invoke('terminal.resize', { termId, cols: term.cols, rows: term.rows })
          .catch(() => undefined);
      },
      (e: unknown) => {
        if (disposed) return;
        setState('exited');
        setError(errorText(e));
      },
    );
    const observer = new ResizeObserver(() => {
      // Hidden (zero-sized) panes have no cells to fit.
      if (el.clientWidth > 0 && el.clientHeight > 0) fit.fit();
    });
    observer.observe(el);
    return () => {
      disposed = true;
      observer.disconnect();
      input.dispose();
      resize.dispose();
      offData();
      offExit();
      if (opened) void berth.invoke('terminal.close', { termId }).catch(() => undefined);
      term.dispose();
    };
  }, [berth, props.id, props.running, generation]);

  if (!props.running) {
    return (
      <p className="muted" role="status">
        The container is not running. Start it to open a terminal.
      </p>
    );
  }
  return (
    <div className="terminal-pane">
      <div className="row toolbar">
        <span className="muted small" role="status" data-testid="terminal-state">
          {state === 'connecting'
            ? 'Connecting…'
            : state === 'open'
              ? 'Connected — a shell in the container'
              : 'Disconnected'}
        </span>
        <span className="grow" />
        {state === 'exited' && (
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      <ErrorBanner error={error} />
      <div ref={host} className="terminal" role="region" aria-label="Terminal" />
    </div>
  );
}
