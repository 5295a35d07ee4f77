import { useState } from 'react';
import type { ImageSummary } from '../../shared/contract.js';
import { DataTable, removeAction, type Column } from '../components/DataTable.js';
import { PruneDialog } from '../components/PruneDialog.js';
import { View } from '../components/View.js';
import { EmptyState, ErrorBanner, Notice, LoadError } from '../components/common.js';
import { formatAge, formatBytes, plural, shortId } from '../format.js';
import { useAction, useBerth, useList } from '../state.js';
import { HistoryDialog, PushDialog, TagDialog } from './ImageDialogs.js';
import { PullDialog } from './PullDialog.js';
import { RunDialog } from './RunDialog.js';

function displayName(i: ImageSummary): string {
  return i.repoTags[0] ?? i.repoDigests[0]?.replace(/@.*/, '@<digest>') ?? '<none>';
}

/** What the engine is asked about: the first tag, else the ID. */
function imageRef(i: ImageSummary): string {
  return i.repoTags[0] ?? i.id;
}

const COLUMNS: readonly Column<ImageSummary>[] = [
  {
    header: 'Name',
    className: 'name-col',
    cell: (i) => (
      <>
        <span className="name">{displayName(i)}</span>
        {i.repoTags.slice(1).map((t) => (
          <div key={t} className="muted small">
            {t}
          </div>
        ))}
      </>
    ),
  },
  { header: 'ID', cell: (i) => <code>{shortId(i.id)}</code> },
  { header: 'Created', className: 'nowrap', cell: (i) => formatAge(i.created) },
  {
    header: 'In use',
    cell: (i) =>
      i.containers > 0 ? (
        <span className="badge badge-running">{plural(i.containers, 'container')}</span>
      ) : i.containers === 0 ? (
        <span className="muted">unused</span>
      ) : (
        <span className="muted">—</span>
      ),
  },
  { header: 'Size', className: 'num', headClassName: 'num', cell: (i) => formatBytes(i.size) },
];

export function ImagesView(props: { onStarted: (id: string) => void }) {
  const berth = useBerth();
  const images = useList('images.list', ['image', 'container']);
  const action = useAction();
  const [pulling, setPulling] = useState(false);
  const [runImage, setRunImage] = useState<string>();
  const [tagging, setTagging] = useState<string>();
  const [pushing, setPushing] = useState<string[]>();
  const [history, setHistory] = useState<string>();
  const [pruning, setPruning] = useState(false);
  const [pruned, setPruned] = useState<string>();
  const list = images.data ?? [];

  return (
    <View
      id="images"
      title="Images"
      summary={images.data ? plural(list.length, 'image') : ''}
      tools={
        <>
          <button type="button" onClick={() => setPruning(true)} disabled={list.length === 0}>
            Prune unused
          </button>
          <button type="button" className="primary" onClick={() => setPulling(true)}>
            Pull image
          </button>
        </>
      }
    >
      <Notice text={pruned} />
      <LoadError error={images.error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <DataTable
        label="Images"
        columns={COLUMNS}
        rows={images.data}
        empty={
          <EmptyState title="No images yet">
            <p>
              Pull one from a registry to get started — for example <code>nginx:alpine</code> — or
              run <code>docker pull</code> against this engine.
            </p>
            <button type="button" className="primary" onClick={() => setPulling(true)}>
              Pull an image
            </button>
          </EmptyState>
        }
        rowKey={(i) => i.id}
        rowTestId="image-row"
        actions={(i) => {
          const name = displayName(i);
          return [
            { label: 'Run', name: `Run ${name}`, onClick: () => setRunImage(imageRef(i)) },
            { label: 'Tag', name: `Tag ${name}`, onClick: () => setTagging(imageRef(i)) },
            {
              label: 'Push',
              name: `Push ${name}`,
              disabled: i.repoTags.length === 0,
              onClick: () => setPushing(i.repoTags),
            },
            {
              label: 'History',
              name: `History of ${name}`,
              onClick: () => setHistory(imageRef(i)),
            },
            removeAction(
              `Remove ${name}`,
              action,
              () => berth.invoke('images.remove', { id: imageRef(i) }),
              images.reload,
            ),
          ];
        }}
      />
      {tagging !== undefined && (
        <TagDialog
          source={tagging}
          onClose={() => setTagging(undefined)}
          onTagged={images.reload}
        />
      )}
      {pushing !== undefined && <PushDialog refs={pushing} onClose={() => setPushing(undefined)} />}
      {history !== undefined && (
        <HistoryDialog image={history} onClose={() => setHistory(undefined)} />
      )}
      {pruning && (
        <PruneDialog
          title="Prune unused images"
          confirmLabel="Remove unused images"
          action={action}
          prune={async () => {
            const r = await berth.invoke('images.prune', { all: true });
            return `Removed ${plural(r.deleted.length, 'image layer')}, reclaimed ${formatBytes(r.spaceReclaimed)}.`;
          }}
          onPruned={setPruned}
          onClose={() => setPruning(false)}
          onSettled={images.reload}
        >
          <p>
            Every image that no container uses — running or stopped — will be removed. Pull them
            again to use them later.
          </p>
        </PruneDialog>
      )}
      {pulling && <PullDialog onClose={() => setPulling(false)} onPulled={images.reload} />}
      {runImage !== undefined && (
        <RunDialog
          image={runImage}
          onClose={() => setRunImage(undefined)}
          onStarted={props.onStarted}
        />
      )}
    </View>
  );
}
