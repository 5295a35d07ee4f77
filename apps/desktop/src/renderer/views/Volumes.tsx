import { useState } from 'react';
import type { VolumeSummary } from '../../shared/contract.js';
import { DataTable, removeAction, type Column } from '../components/DataTable.js';
import { PruneDialog } from '../components/PruneDialog.js';
import { View } from '../components/View.js';
import { EmptyState, ErrorBanner, Notice, LoadError } from '../components/common.js';
import { formatBytes, plural } from '../format.js';
import { useAction, useBerth, useList } from '../state.js';

const COLUMNS: readonly Column<VolumeSummary>[] = [
  {
    header: 'Name',
    cell: (v) => (
      <>
        <span className="name" title={v.mountpoint}>
          {v.name.length > 40 ? `${v.name.slice(0, 12)}…` : v.name}
        </span>
        <div className="muted small">{v.mountpoint}</div>
      </>
    ),
  },
  { header: 'Driver', cell: (v) => v.driver },
  {
    header: 'Used by',
    cell: (v) =>
      v.usedBy.length === 0 ? <span className="muted">unused</span> : v.usedBy.join(', '),
  },
  {
    header: 'Size',
    className: 'num',
    headClassName: 'num',
    cell: (v) => (v.size < 0 ? '—' : formatBytes(v.size)),
  },
];

export function VolumesView() {
  const berth = useBerth();
  const volumes = useList('volumes.list', ['volume', 'container']);
  const action = useAction();
  const [pruning, setPruning] = useState(false);
  const [done, setDone] = useState<string>();
  const list = volumes.data ?? [];
  const unused = list.filter((v) => v.usedBy.length === 0).length;

  return (
    <View
      id="volumes"
      title="Volumes"
      summary={volumes.data ? `${plural(list.length, 'volume')}, ${unused} unused` : ''}
      tools={
        <button type="button" disabled={unused === 0} onClick={() => setPruning(true)}>
          Prune unused
        </button>
      }
    >
      <LoadError error={volumes.error} />
      <ErrorBanner error={pruning ? undefined : action.error} onDismiss={action.clear} />
      <Notice text={done} />
      <DataTable
        label="Volumes"
        columns={COLUMNS}
        rows={volumes.data}
        empty={
          <EmptyState title="No volumes">
            <p>
              Volumes keep data beyond a container&apos;s life. Create one with{' '}
              <code>docker volume create data</code>, or run a container with{' '}
              <code>-v data:/var/lib/data</code>.
            </p>
          </EmptyState>
        }
        rowKey={(v) => v.name}
        rowTestId="volume-row"
        actions={(v) => [
          removeAction(
            `Remove volume ${v.name}`,
            action,
            () => berth.invoke('volumes.remove', { name: v.name }),
            volumes.reload,
          ),
        ]}
      />
      {pruning && (
        <PruneDialog
          title="Prune unused volumes"
          confirmLabel="Remove unused volumes"
          action={action}
          prune={async () => {
            const r = await berth.invoke('volumes.prune', {});
            return `Removed ${plural(r.deleted.length, 'volume')}, reclaimed ${formatBytes(r.spaceReclaimed)}.`;
          }}
          onPruned={setDone}
          onClose={() => setPruning(false)}
          onSettled={volumes.reload}
        >
          <p>
            {plural(unused, 'volume')} that no container uses will be deleted with their data. This
            cannot be undone.
          </p>
        </PruneDialog>
      )}
    </View>
  );
}
