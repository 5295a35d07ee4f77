import { useEffect, useState } from 'react';
import { Dialog, EmptyState, ErrorBanner } from '../components/common.js';
import { shortId } from '../format.js';
import { errorText, useAction, useBerth, useList } from '../state.js';

/** Networks every engine has; the engine refuses to remove them. */
const PREDEFINED = new Set(['bridge', 'host', 'none']);

function InspectDialog(props: { id: string; name: string; onClose: () => void }) {
  const berth = useBerth();
  const [raw, setRaw] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    berth.invoke('networks.inspect', { id: props.id }).then(
      (r) => setRaw(JSON.stringify(r, null, 2)),
      (e: unknown) => setError(errorText(e)),
    );
  }, [berth, props.id]);
  return (
    <Dialog title={`Network ${props.name}`} onClose={props.onClose} wide>
      <ErrorBanner error={error} />
      <pre className="json" aria-label="Network inspect JSON" tabIndex={0}>
        {raw ?? 'Loading…'}
      </pre>
    </Dialog>
  );
}

export function NetworksView() {
  const berth = useBerth();
  const networks = useList('networks.list', ['network', 'container']);
  const action = useAction();
  const [inspecting, setInspecting] = useState<{ id: string; name: string }>();
  const list = networks.data ?? [];
  return (
    <section className="view" aria-labelledby="networks-title">
      <header className="view-head">
        <h1 id="networks-title">Networks</h1>
        <span className="muted">{networks.data ? `${list.length} networks` : ''}</span>
      </header>
      <ErrorBanner error={networks.error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {networks.data && list.length === 0 && (
        <EmptyState title="No networks">
          <p>
            The engine has not reported any network. Create one with{' '}
            <code>docker network create app</code>.
          </p>
        </EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Networks">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Driver</th>
              <th scope="col">Subnet</th>
              <th scope="col">Containers</th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((n) => (
              <tr key={n.id} data-testid="network-row">
                <td>
                  <span className="name">{n.name}</span>
                  {n.internal && <span className="muted small"> internal</span>}
                </td>
                <td>
                  <code>{shortId(n.id)}</code>
                </td>
                <td>{n.driver}</td>
                <td>{n.subnets.join(', ') || <span className="muted">—</span>}</td>
                <td>
                  {n.containers.length ? n.containers.join(', ') : <span className="muted">—</span>}
                </td>
                <td className="actions-col">
                  <button
                    type="button"
                    aria-label={`Inspect network ${n.name}`}
                    onClick={() => setInspecting({ id: n.id, name: n.name })}
                  >
                    Inspect
                  </button>
                  {!PREDEFINED.has(n.name) && (
                    <button
                      type="button"
                      className="danger"
                      disabled={action.busy}
                      aria-label={`Remove network ${n.name}`}
                      onClick={() =>
                        void action
                          .run(() => berth.invoke('networks.remove', { id: n.id }))
                          .then(networks.reload)
                      }
                    >
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {inspecting && <InspectDialog {...inspecting} onClose={() => setInspecting(undefined)} />}
    </section>
  );
}
