import { useState } from 'react';
import type { ContainerSummary } from '../../shared/contract.js';
import { EmptyState, ErrorBanner, StateBadge } from '../components/common.js';
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

export function ContainersView(props: { onOpen: (id: string) => void }) {
  const berth = useBerth();
  const containers = useList('containers.list', 'container');
  const action = useAction();
  const [running, setRunning] = useState(false);
  const list = containers.data ?? [];

  const act = (fn: () => Promise<unknown>) => void action.run(fn).then(containers.reload);

  return (
    <section className="view" aria-labelledby="containers-title">
      <header className="view-head">
        <h1 id="containers-title">Containers</h1>
        <span className="muted">
          {containers.data
            ? `${list.filter((c) => c.state === 'running').length} running of ${list.length}`
            : ''}
        </span>
        <span className="grow" />
        <button type="button" className="primary" onClick={() => setRunning(true)}>
          Run a container
        </button>
      </header>
      <ErrorBanner error={containers.error} />
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
        <table className="table" aria-label="Containers">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Image</th>
              <th scope="col">State</th>
              <th scope="col">Ports</th>
              <th scope="col">Created</th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr key={c.id} data-testid="container-row">
                <td>
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
                </td>
                <td>{c.image}</td>
                <td>
                  <StateBadge state={c.state} />
                </td>
                <td>
                  <PortLinks ports={c.ports} />
                </td>
                <td>{formatAge(c.created)}</td>
                <td className="actions-col">
                  {c.state === 'running' ? (
                    <button
                      type="button"
                      disabled={action.busy}
                      aria-label={`Stop ${c.name}`}
                      onClick={() => act(() => berth.invoke('containers.stop', { id: c.id }))}
                    >
                      Stop
                    </button>
                  ) : (
                    <button
                      type="button"
                      disabled={action.busy}
                      aria-label={`Start ${c.name}`}
                      onClick={() => act(() => berth.invoke('containers.start', { id: c.id }))}
                    >
                      Start
                    </button>
                  )}
                  <button
                    type="button"
                    className="danger"
                    disabled={action.busy}
                    aria-label={`Remove ${c.name}`}
                    onClick={() =>
                      act(() => berth.invoke('containers.remove', { id: c.id, force: true }))
                    }
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {running && (
        <RunDialog onClose={() => setRunning(false)} onStarted={() => containers.reload()} />
      )}
    </section>
  );
}
