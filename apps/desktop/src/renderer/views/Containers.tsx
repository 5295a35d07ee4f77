import { useMemo, useState } from 'react';
import type { ContainerState, ContainerSummary } from '../../shared/contract.js';
import { DataTable, removeAction, type RowAction } from '../components/DataTable.js';
import { SearchField, Toolbar } from '../components/Toolbar.js';
import { View } from '../components/View.js';
import { EmptyState, ErrorBanner, StateBadge, LoadError } from '../components/common.js';
import { formatAge } from '../format.js';
import { useAction, useBerth, useList } from '../state.js';
import { RunDialog } from './RunDialog.js';

export function PortLinks(props: { ports: ContainerSummary['ports'] }) {
  const seen = new Set<string>();
  const items = props.ports.filter((p) => {
    const key = `${p.publicPort}:${p.privatePort}/${p.type}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (items.length === 0) return <span className="muted">—</span>;
  return (
    <>
      {items.map((p) =>
        p.publicPort && p.type === 'tcp' ? (
          <a
            key={`${p.publicPort}:${p.privatePort}`}
            href={`http://localhost:${p.publicPort}/`}
            target="_blank"
            rel="noreferrer noopener"
            className="port"
            aria-label={`Open port ${p.publicPort} in the browser`}
          >
            {p.publicPort}:{p.privatePort}
          </a>
        ) : (
          <span key={`${p.publicPort}:${p.privatePort}/${p.type}`} className="port muted">
            {p.publicPort ? `${p.publicPort}:` : ''}
            {p.privatePort}/{p.type}
          </span>
        ),
      )}
    </>
  );
}

export const COMPOSE_PROJECT = 'com.docker.compose.project';

const FILTERS = {
  all: { label: 'All states', states: undefined },
  running: { label: 'Running', states: ['running', 'restarting'] },
  paused: { label: 'Paused', states: ['paused'] },
  stopped: { label: 'Stopped', states: ['created', 'exited', 'dead', 'removing'] },
} as const satisfies Record<
  string,
  { label: string; states: readonly ContainerState[] | undefined }
>;
type Filter = keyof typeof FILTERS;

export interface Group {
  /** The compose project, or undefined for standalone containers. */
  project: string | undefined;
  containers: ContainerSummary[];
}

/** Compose projects first (by name), then standalone containers; each list by name. */
export function groupByProject(list: readonly ContainerSummary[]): Group[] {
  const byProject = new Map<string | undefined, ContainerSummary[]>();
  for (const c of [...list].sort((a, b) => a.name.localeCompare(b.name))) {
    const p = c.labels[COMPOSE_PROJECT] || undefined;
    byProject.set(p, [...(byProject.get(p) ?? []), c]);
  }
  return [...byProject.entries()]
    .sort(([a], [b]) => (a === undefined ? 1 : b === undefined ? -1 : a.localeCompare(b)))
    .map(([project, containers]) => ({ project, containers }));
}

export function matches(c: ContainerSummary, query: string, filter: Filter): boolean {
  const states: readonly ContainerState[] | undefined = FILTERS[filter].states;
  if (states && !states.includes(c.state)) return false;
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [c.name, c.image, c.id.slice(0, 12), c.labels[COMPOSE_PROJECT] ?? ''].some((f) =>
    f.toLowerCase().includes(q),
  );
}

export type LifecycleMethod =
  | 'containers.start'
  | 'containers.stop'
  | 'containers.restart'
  | 'containers.pause'
  | 'containers.unpause';

export function ContainersView(props: { onOpen: (id: string) => void }) {
  const berth = useBerth();
  const containers = useList('containers.list', ['container']);
  const action = useAction();
  const [running, setRunning] = useState(false);
  const [query, setQuery] = useState('');
  const [filter, setFilter] = useState<Filter>('all');
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const list = useMemo(() => containers.data ?? [], [containers.data]);
  const shown = useMemo(() => list.filter((c) => matches(c, query, filter)), [list, query, filter]);
  const groups = useMemo(() => groupByProject(shown), [shown]);
  // Only what is listed (and still exists) counts as selected.
  const chosen = shown.filter((c) => selected.has(c.id));

  const act = (fn: () => Promise<unknown>) => void action.run(fn).then(containers.reload);
  const select = (ids: string[], on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      for (const id of ids) {
        if (on) next.add(id);
        else next.delete(id);
      }
      return next;
    });
  const bulk = (fn: (c: ContainerSummary) => Promise<unknown>) =>
    act(async () => {
      // Each container is tried; the first failure is reported once all were tried.
      const results = await Promise.allSettled(chosen.map(fn));
      setSelected(new Set());
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });

  return (
    <View
      id="containers"
      title="Containers"
      summary={
        containers.data
          ? `${list.filter((c) => c.state === 'running').length} running of ${list.length}`
          : ''
      }
      tools={
        <button type="button" className="primary" onClick={() => setRunning(true)}>
          Run a container
        </button>
      }
    >
      <LoadError error={containers.error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {containers.data && list.length === 0 && (
        <EmptyState title="No containers yet">
          <p>
            Run one from an image — here with <strong>Run a container</strong>, from the Images
            list, or with <code>docker run -d -p 8080:80 nginx:alpine</code>.
          </p>
          <button type="button" className="primary" onClick={() => setRunning(true)}>
            Run a container
          </button>
        </EmptyState>
      )}
      {list.length > 0 && (
        <>
          <Toolbar role="search">
            <SearchField
              label="Search containers"
              placeholder="Search by name, image, ID or project"
              value={query}
              onChange={setQuery}
            />
            <label>
              <span className="sr-only">Show containers in state</span>
              <select value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
                {(Object.keys(FILTERS) as Filter[]).map((f) => (
                  <option key={f} value={f}>
                    {FILTERS[f].label}
                  </option>
                ))}
              </select>
            </label>
          </Toolbar>
          {chosen.length > 0 && (
            <div className="bulkbar" role="toolbar" aria-label="Selected containers">
              <span>{chosen.length} selected</span>
              <button
                type="button"
                disabled={action.busy}
                onClick={() => bulk((c) => berth.invoke('containers.stop', { id: c.id }))}
              >
                Stop selected
              </button>
              <button
                type="button"
                className="danger"
                disabled={action.busy}
                onClick={() =>
                  bulk((c) => berth.invoke('containers.remove', { id: c.id, force: true }))
                }
              >
                Remove selected
              </button>
              <button type="button" className="link" onClick={() => setSelected(new Set())}>
                Clear selection
              </button>
            </div>
          )}
          {shown.length === 0 ? (
            <p className="muted" role="status">
              No container matches the search and filter.
            </p>
          ) : (
            <DataTable
              label="Containers"
              columns={[
                {
                  header: (
                    <input
                      type="checkbox"
                      aria-label="Select all listed containers"
                      checked={chosen.length === shown.length}
                      onChange={(e) =>
                        select(
                          shown.map((c) => c.id),
                          e.target.checked,
                        )
                      }
                    />
                  ),
                  headClassName: 'check-col',
                  className: 'check-col',
                  cell: (c) => (
                    <input
                      type="checkbox"
                      checked={selected.has(c.id)}
                      aria-label={`Select ${c.name}`}
                      onChange={(e) => select([c.id], e.target.checked)}
                    />
                  ),
                },
                {
                  header: 'Name',
                  cell: (c) => (
                    <>
                      <a
                        href={`#/containers/${c.id}`}
                        className="name"
                        onClick={(e) => {
                          e.preventDefault();
                          props.onOpen(c.id);
                        }}
                      >
                        {c.name}
                      </a>
                      <div className="muted small">{c.status}</div>
                    </>
                  ),
                },
                { header: 'Image', className: 'image-col', cell: (c) => c.image },
                { header: 'State', cell: (c) => <StateBadge state={c.state} /> },
                { header: 'Ports', cell: (c) => <PortLinks ports={c.ports} /> },
                { header: 'Created', className: 'nowrap', cell: (c) => formatAge(c.created) },
              ]}
              groups={groups.map((g) => ({
                key: g.project ?? '',
                rows: g.containers,
                testId: g.project ? 'compose-group' : undefined,
                label: g.project ? `Compose project ${g.project}` : undefined,
                head: g.project ? (
                  <tr className="group-row">
                    <td className="check-col">
                      <input
                        type="checkbox"
                        aria-label={`Select project ${g.project}`}
                        checked={g.containers.every((c) => selected.has(c.id))}
                        onChange={(e) =>
                          select(
                            g.containers.map((c) => c.id),
                            e.target.checked,
                          )
                        }
                      />
                    </td>
                    <th scope="rowgroup" colSpan={6}>
                      <span className="project">{g.project}</span>{' '}
                      <span className="muted small">
                        compose · {g.containers.filter((c) => c.state === 'running').length} running
                        of {g.containers.length}
                      </span>
                    </th>
                  </tr>
                ) : (
                  groups.length > 1 && (
                    <tr className="group-row">
                      <td className="check-col" />
                      <th scope="rowgroup" colSpan={6}>
                        <span className="project">Other containers</span>
                      </th>
                    </tr>
                  )
                ),
              }))}
              rowKey={(c) => c.id}
              rowTestId="container-row"
              selected={(c) => selected.has(c.id)}
              actions={(c) => {
                const run = (method: LifecycleMethod, label: string): RowAction => ({
                  label,
                  name: `${label} ${c.name}`,
                  disabled: action.busy,
                  onClick: () => act(() => berth.invoke(method, { id: c.id })),
                });
                const up =
                  c.state === 'running' || c.state === 'paused' || c.state === 'restarting';
                return [
                  c.state === 'paused' && run('containers.unpause', 'Resume'),
                  c.state === 'running' && run('containers.pause', 'Pause'),
                  up ? run('containers.stop', 'Stop') : run('containers.start', 'Start'),
                  c.state === 'running' && run('containers.restart', 'Restart'),
                  removeAction(
                    `Remove ${c.name}`,
                    action,
                    () => berth.invoke('containers.remove', { id: c.id, force: true }),
                    containers.reload,
                  ),
                ];
              }}
            />
          )}
        </>
      )}
      {running && (
        <RunDialog onClose={() => setRunning(false)} onStarted={() => containers.reload()} />
      )}
    </View>
  );
}
