import { useEffect, useState } from 'react';
import type { NetworkSummary } from '../../shared/contract.js';
import { DataTable, removeAction, type Column } from '../components/DataTable.js';
import { View } from '../components/View.js';
import { Dialog, EmptyState, ErrorBanner, LoadError } from '../components/common.js';
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

const COLUMNS: readonly Column<NetworkSummary>[] = [
  {
    header: 'Name',
    cell: (n) => (
      <>
        <span className="name">{n.name}</span>
        {n.internal && <span className="muted small"> internal</span>}
      </>
    ),
  },
  { header: 'ID', cell: (n) => <code>{shortId(n.id)}</code> },
  { header: 'Driver', cell: (n) => n.driver },
  { header: 'Subnet', cell: (n) => n.subnets.join(', ') || <span className="muted">—</span> },
  {
    header: 'Containers',
    cell: (n) => (n.containers.length ? n.containers.join(', ') : <span className="muted">—</span>),
  },
];

export function NetworksView() {
  const berth = useBerth();
  const networks = useList('networks.list', ['network', 'container']);
  const action = useAction();
  const [inspecting, setInspecting] = useState<{ id: string; name: string }>();
  const list = networks.data ?? [];
  return (
    <View id="networks" title="Networks" summary={networks.data ? `${list.length} networks` : ''}>
      <LoadError error={networks.error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <DataTable
        label="Networks"
        columns={COLUMNS}
        rows={networks.data}
        empty={
          <EmptyState title="No networks">
            <p>
              The engine has not reported any network. Create one with{' '}
              <code>docker network create app</code>.
            </p>
          </EmptyState>
        }
        rowKey={(n) => n.id}
        rowTestId="network-row"
        actions={(n) => [
          {
            label: 'Inspect',
            name: `Inspect network ${n.name}`,
            onClick: () => setInspecting({ id: n.id, name: n.name }),
          },
          !PREDEFINED.has(n.name) &&
            removeAction(
              `Remove network ${n.name}`,
              action,
              () => berth.invoke('networks.remove', { id: n.id }),
              networks.reload,
            ),
        ]}
      />
      {inspecting && <InspectDialog {...inspecting} onClose={() => setInspecting(undefined)} />}
    </View>
  );
}
