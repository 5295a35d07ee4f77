import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import type { ContainerDetail } from '../../shared/contract.js';
import { ActionButtons, type RowAction } from '../components/DataTable.js';
import { SearchField, Toolbar } from '../components/Toolbar.js';
import { ErrorBanner, StateBadge } from '../components/common.js';
import { stripAnsi } from '../../shared/ansi.js';
import { newId } from '../format.js';
import { errorText, useAction, useBerth } from '../state.js';
import { AnsiText } from '../components/AnsiText.js';
import { PortLinks, type LifecycleMethod } from './Containers.js';
import { StatsView } from './Stats.js';

// xterm.js is most of the bundle's weight: it loads when a terminal is first opened.
const TerminalView = lazy(() => import('./Terminal.js').then((m) => ({ default: m.TerminalView })));

const TABS = { logs: 'Logs', inspect: 'Inspect', stats: 'Stats', terminal: 'Terminal' } as const;
type Tab = keyof typeof TABS;

const MAX_LOG_CHARS = 500_000;

function Logs(props: { id: string }) {
  const berth = useBerth();
  const [text, setText] = useState('');
  const [ended, setEnded] = useState<string>();
  const [follow, setFollow] = useState(true);
  const [timestamps, setTimestamps] = useState(false);
  const [filter, setFilter] = useState('');
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const streamId = newId('logs');
    setText('');
    setEnded(undefined);
    const offChunk = berth.on('logs.chunk', (c) => {
      if (c.streamId === streamId) setText((t) => (t + c.text).slice(-MAX_LOG_CHARS));
    });
    const offEnd = berth.on('logs.end', (e) => {
      if (e.streamId === streamId) setEnded(e.error ?? 'The log stream ended.');
    });
    berth
      .invoke('logs.follow', { id: props.id, streamId, timestamps })
      .catch((e: unknown) => setEnded(errorText(e)));
    return () => {
      offChunk();
      offEnd();
      void berth.invoke('logs.cancel', { streamId }).catch(() => undefined);
    };
  }, [berth, props.id, timestamps]);

  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);

  const shown = filter
    ? text
        .split('\n')
        .filter((l) => stripAnsi(l).toLowerCase().includes(filter.toLowerCase()))
        .join('\n')
    : text;
  return (
    <div className="logs">
      <Toolbar>
        <SearchField
          label="Search logs"
          placeholder="Search logs"
          value={filter}
          onChange={setFilter}
        />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={timestamps}
            onChange={(e) => setTimestamps(e.target.checked)}
          />
          Timestamps
        </label>
      </Toolbar>
      <pre ref={pre} className="log-output" aria-label="Container logs" tabIndex={0}>
        {shown ? <AnsiText text={shown} /> : ended ? '' : 'Waiting for output…'}
      </pre>
      {ended && <p className="muted small">{ended}</p>}
    </div>
  );
}

function Inspect(props: { detail: ContainerDetail }) {
  const d = props.detail;
  const fields: [string, string][] = [
    ['ID', d.id],
    ['Image', `${d.image} (${d.imageId.slice(0, 19)})`],
    ['Created', d.created],
    ['Started', d.startedAt],
    ['Finished', d.running ? '—' : d.finishedAt],
    ['Exit code', d.running ? '—' : String(d.exitCode)],
    ['Entrypoint', d.entrypoint.join(' ') || '—'],
    ['Command', d.cmd.join(' ') || '—'],
    ['Working dir', d.workingDir || '/'],
    ['IP address', d.ipAddress || '—'],
    ['TTY', d.tty ? 'yes' : 'no'],
  ];
  return (
    <div className="inspect">
      <dl className="fields">
        {fields.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        <div>
          <dt>Environment</dt>
          <dd>
            {d.env.length === 0 ? (
              '—'
            ) : (
              <ul className="env">
                {d.env.map((e) => (
                  <li key={e}>
                    <code>{e}</code>
                  </li>
                ))}
              </ul>
            )}
          </dd>
        </div>
      </dl>
      <details>
        <summary>Raw JSON</summary>
        <pre className="json" aria-label="Raw inspect JSON">
          {JSON.stringify(d.raw, null, 2)}
        </pre>
      </details>
    </div>
  );
}

export function ContainerDetailView(props: { id: string; onBack: () => void }) {
  const berth = useBerth();
  const [detail, setDetail] = useState<ContainerDetail>();
  const [error, setError] = useState<string>();
  const [tab, setTab] = useState<Tab>('logs');
  const action = useAction();

  useEffect(() => {
    const load = () =>
      berth.invoke('containers.inspect', { id: props.id }).then(
        (d) => {
          setDetail(d);
          setError(undefined);
        },
        (e: unknown) => setError(errorText(e)),
      );
    void load();
    return berth.on('engine.event', (ev) => {
      if (ev.type === 'container' && ev.id === props.id) void load();
    });
  }, [berth, props.id]);

  const act = (method: LifecycleMethod, label: string): RowAction => ({
    label,
    disabled: action.busy,
    onClick: () => void action.run(() => berth.invoke(method, { id: props.id })),
  });

  return (
    <section className="view" aria-labelledby="detail-title">
      <header className="view-head">
        <button type="button" className="link" onClick={props.onBack}>
          ← Containers
        </button>
        <h1 id="detail-title">{detail?.name ?? props.id.slice(0, 12)}</h1>
        {detail && <StateBadge state={detail.state} />}
        <span className="grow" />
        <ActionButtons
          actions={[
            detail?.state === 'paused' && act('containers.unpause', 'Resume'),
            detail?.state === 'running' && act('containers.pause', 'Pause'),
            ...(detail?.running
              ? [act('containers.stop', 'Stop'), act('containers.restart', 'Restart')]
              : [act('containers.start', 'Start')]),
            {
              label: 'Remove',
              danger: true,
              disabled: action.busy,
              onClick: () =>
                void action
                  .run(() => berth.invoke('containers.remove', { id: props.id, force: true }))
                  .then((ok) => ok && props.onBack()),
            },
          ]}
        />
      </header>
      <ErrorBanner error={error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {detail && (
        <>
          <p className="muted">
            {detail.image} · ports <PortLinks ports={detail.ports} />
          </p>
          <div role="tablist" aria-label="Container views" className="tabs">
            {(Object.keys(TABS) as Tab[]).map((t) => (
              <button
                key={t}
                id={`tab-${t}`}
                type="button"
                role="tab"
                aria-selected={tab === t}
                aria-controls="detail-panel"
                // One tab stop for the list; arrow keys move between tabs (WAI-ARIA tabs).
                tabIndex={tab === t ? 0 : -1}
                className={tab === t ? 'tab active' : 'tab'}
                onClick={() => setTab(t)}
                onKeyDown={(e) => {
                  const keys = Object.keys(TABS) as Tab[];
                  const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
                  if (!step) return;
                  const next = keys[(keys.indexOf(t) + step + keys.length) % keys.length] ?? t;
                  setTab(next);
                  document.getElementById(`tab-${next}`)?.focus();
                }}
              >
                {TABS[t]}
              </button>
            ))}
          </div>
          <div role="tabpanel" id="detail-panel" aria-labelledby={`tab-${tab}`}>
            {tab === 'logs' && <Logs id={props.id} />}
            {tab === 'inspect' && <Inspect detail={detail} />}
            {tab === 'stats' && <StatsView id={props.id} running={detail.state === 'running'} />}
            {tab === 'terminal' && (
              <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
                <TerminalView id={props.id} running={detail.state === 'running'} />
              </Suspense>
            )}
          </div>
        </>
      )}
    </section>
  );
}
