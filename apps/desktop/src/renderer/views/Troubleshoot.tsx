import { useCallback, useEffect, useState } from 'react';
import { Toolbar } from '../components/Toolbar.js';
import { View } from '../components/View.js';
import { ConfirmDialog, ErrorBanner, Notice } from '../components/common.js';
import { errorText, useAction, useBerth } from '../state.js';

/** berthd's JSON log line as `12:00:01.234 INFO  msg key=value…`; other lines as they are. */
export function readableLogLine(line: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null) return line;
  const { time, level, msg, ...fields } = entry as Record<string, unknown>;
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const when = typeof time === 'string' ? time.slice(11, 23) : '';
  const lvl = typeof level === 'string' ? level.toUpperCase().padEnd(5) : '';
  return `${when} ${lvl} ${typeof msg === 'string' ? msg : ''} ${rest}`.trim();
}

export function TroubleshootView() {
  const berth = useBerth();
  const [log, setLog] = useState<{ path: string; lines: string[]; vm?: string[] }>();
  const [logError, setLogError] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState<string>();
  const action = useAction();

  const refresh = useCallback(() => {
    berth.invoke('troubleshoot.logs', { tail: 300 }).then(
      (l) => {
        setLog(l);
        setLogError(undefined);
      },
      (e: unknown) => setLogError(errorText(e)),
    );
  }, [berth]);
  useEffect(refresh, [refresh]);

  return (
    <View
      id="troubleshoot"
      title="Troubleshoot"
      tools={
        <>
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              void action
                .run(async () => {
                  setNotice('Restarting the engine…');
                  await berth.invoke('engine.restart', {});
                  setNotice('The engine restarted.');
                })
                .then((ok) => {
                  if (!ok) setNotice(undefined);
                  refresh();
                })
            }
          >
            Restart engine
          </button>
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Reset to defaults
          </button>
        </>
      }
    >
      <ErrorBanner error={confirming ? undefined : action.error} onDismiss={action.clear} />
      <Notice text={notice} />
      <Toolbar>
        <h2 className="h2">Engine log</h2>
        <span className="muted small">{log?.path}</span>
        <span className="grow" />
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </Toolbar>
      <ErrorBanner error={logError} />
      <pre className="log-output" aria-label="Engine log" tabIndex={0}>
        {log ? log.lines.map(readableLogLine).join('\n') || 'The log is empty.' : 'Loading…'}
      </pre>
      {log?.vm && (
        <>
          <h2 className="h2 spaced">VM console</h2>
          <pre className="log-output short" aria-label="VM console" tabIndex={0}>
            {log.vm.join('\n') || 'The VM has not written anything yet.'}
          </pre>
        </>
      )}
      {confirming && (
        <ConfirmDialog
          title="Reset to defaults"
          confirmLabel="Reset settings"
          busy={action.busy}
          error={action.error}
          onClose={() => {
            setConfirming(false);
            action.clear();
          }}
          onConfirm={() =>
            void action
              .run(() => berth.invoke('settings.reset', {}))
              .then((ok) => {
                if (!ok) return;
                setConfirming(false);
                setNotice('Settings are back to their defaults.');
              })
          }
        >
          <p>
            CPUs, memory, disk, shared folders, insecure registries and start-at-login go back to
            Berth&apos;s defaults. Containers, images and volumes are kept.
          </p>
        </ConfirmDialog>
      )}
    </View>
  );
}
