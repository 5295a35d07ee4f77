import { useState } from 'react';
import { ConfirmDialog, EmptyState, ErrorBanner } from '../components/common.js';
import { formatBytes, plural } from '../format.js';
import { useAction, useBerth, useList } from '../state.js';

export function VolumesView() {
  const berth = useBerth();
  const volumes = useList('volumes.list', ['volume', 'container']);
  const action = useAction();
  const [pruning, setPruning] = useState(false);
  const [done, setDone] = useState<string>();
  const list = volumes.data ?? [];
  const unused = list.filter((v) => v.usedBy.length === 0).length;

  return (
    <section className="view" aria-labelledby="volumes-title">
      <header className="view-head">
        <h1 id="volumes-title">Volumes</h1>
        <span className="muted">
          {volumes.data ? `${plural(list.length, 'volume')}, ${unused} unused` : ''}
        </span>
        <span className="grow" />
        <button type="button" disabled={unused === 0} onClick={() => setPruning(true)}>
          Prune unused
        </button>
      </header>
      <ErrorBanner error={volumes.error} />
      <ErrorBanner error={pruning ? undefined : action.error} onDismiss={action.clear} />
      {done && (
        <p className="ok" role="status">
          {done}
        </p>
      )}
      {volumes.data && list.length === 0 && (
        <EmptyState title="No volumes">
          <p>
            Volumes keep data beyond a container&apos;s life. Create one with{' '}
            <code>docker volume create data</code>, or run a container with{' '}
            <code>-v data:/var/lib/data</code>.
          </p>
        </EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Volumes">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Driver</th>
              <th scope="col">Used by</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((v) => (
              <tr key={v.name} data-testid="volume-row">
                <td>
                  <span className="name" title={v.mountpoint}>
                    {v.name.length > 40 ? `${v.name.slice(0, 12)}…` : v.name}
                  </span>
                  <div className="muted small">{v.mountpoint}</div>
                </td>
                <td>{v.driver}</td>
                <td>
                  {v.usedBy.length === 0 ? (
                    <span className="muted">unused</span>
                  ) : (
                    v.usedBy.join(', ')
                  )}
                </td>
                <td className="num">{v.size < 0 ? '—' : formatBytes(v.size)}</td>
                <td className="actions-col">
                  <button
                    type="button"
                    className="danger"
                    disabled={action.busy}
                    aria-label={`Remove volume ${v.name}`}
                    onClick={() =>
                      void action
                        .run(() => berth.invoke('volumes.remove', { name: v.name }))
                        .then(volumes.reload)
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
      {pruning && (
        <ConfirmDialog
          title="Prune unused volumes"
          confirmLabel="Remove unused volumes"
          busy={action.busy}
          error={action.error}
          onClose={() => {
            setPruning(false);
            action.clear();
          }}
          onConfirm={() =>
            void action
              .run(async () => {
                const r = await berth.invoke('volumes.prune', {});
                setDone(
                  `Removed ${plural(r.deleted.length, 'volume')}, reclaimed ${formatBytes(r.spaceReclaimed)}.`,
                );
              })
              .then((ok) => {
                if (ok) setPruning(false);
                volumes.reload();
              })
          }
        >
          <p>
            {plural(unused, 'volume')} that no container uses will be deleted with their data. This
            cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
