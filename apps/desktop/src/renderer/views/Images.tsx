import { useState } from 'react';
import type { ImageSummary } from '../../shared/contract.js';
import { ConfirmDialog, EmptyState, ErrorBanner } from '../components/common.js';
import { formatAge, formatBytes, plural, shortId } from '../format.js';
import { useAction, useBerth, useList } from '../state.js';
import { HistoryDialog, PushDialog, TagDialog } from './ImageDialogs.js';
import { PullDialog } from './PullDialog.js';
import { RunDialog } from './RunDialog.js';

function displayName(i: ImageSummary): string {
  return i.repoTags[0] ?? i.repoDigests[0]?.replace(/@.*/, '@<digest>') ?? '<none>';
}

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
    <section className="view" aria-labelledby="images-title">
      <header className="view-head">
        <h1 id="images-title">Images</h1>
        <span className="muted">{images.data ? plural(list.length, 'image') : ''}</span>
        <span className="grow" />
        <button type="button" onClick={() => setPruning(true)} disabled={list.length === 0}>
          Prune unused
        </button>
        <button type="button" className="primary" onClick={() => setPulling(true)}>
          Pull image
        </button>
      </header>
      {pruned && (
        <p className="ok" role="status">
          {pruned}
        </p>
      )}
      <ErrorBanner error={images.error} />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {images.data && list.length === 0 && (
        <EmptyState title="No images yet">
          <p>
            Pull one from a registry to get started — for example <code>nginx:alpine</code> — or run{' '}
            <code>docker pull</code> against this engine.
          </p>
          <button type="button" className="primary" onClick={() => setPulling(true)}>
            Pull an image
          </button>
        </EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Images">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Created</th>
              <th scope="col">In use</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col" className="actions-col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((i) => {
              const name = displayName(i);
              return (
                <tr key={i.id} data-testid="image-row">
                  <td className="name-col">
                    <span className="name">{name}</span>
                    {i.repoTags.slice(1).map((t) => (
                      <div key={t} className="muted small">
                        {t}
                      </div>
                    ))}
                  </td>
                  <td>
                    <code>{shortId(i.id)}</code>
                  </td>
                  <td className="nowrap">{formatAge(i.created)}</td>
                  <td>
                    {i.containers > 0 ? (
                      <span className="badge badge-running">
                        {plural(i.containers, 'container')}
                      </span>
                    ) : i.containers === 0 ? (
                      <span className="muted">unused</span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td className="num">{formatBytes(i.size)}</td>
                  <td className="actions-col">
                    <button
                      type="button"
                      onClick={() => setRunImage(i.repoTags[0] ?? i.id)}
                      aria-label={`Run ${name}`}
                    >
                      Run
                    </button>
                    <button
                      type="button"
                      onClick={() => setTagging(i.repoTags[0] ?? i.id)}
                      aria-label={`Tag ${name}`}
                    >
                      Tag
                    </button>
                    <button
                      type="button"
                      onClick={() => setPushing(i.repoTags)}
                      disabled={i.repoTags.length === 0}
                      aria-label={`Push ${name}`}
                    >
                      Push
                    </button>
                    <button
                      type="button"
                      onClick={() => setHistory(i.repoTags[0] ?? i.id)}
                      aria-label={`History of ${name}`}
                    >
                      History
                    </button>
                    <button
                      type="button"
                      className="danger"
                      disabled={action.busy}
                      aria-label={`Remove ${name}`}
                      onClick={() =>
                        void action
                          .run(() => berth.invoke('images.remove', { id: i.repoTags[0] ?? i.id }))
                          .then(images.reload)
                      }
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
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
        <ConfirmDialog
          title="Prune unused images"
          confirmLabel="Remove unused images"
          busy={action.busy}
          error={action.error}
          onClose={() => {
            setPruning(false);
            action.clear();
          }}
          onConfirm={() =>
            void action
              .run(async () => {
                const r = await berth.invoke('images.prune', { all: true });
                setPruned(
                  `Removed ${plural(r.deleted.length, 'image layer')}, reclaimed ${formatBytes(r.spaceReclaimed)}.`,
                );
              })
              .then((ok) => {
                if (ok) setPruning(false);
                images.reload();
              })
          }
        >
          <p>
            Every image that no container uses — running or stopped — will be removed. Pull them
            again to use them later.
          </p>
        </ConfirmDialog>
      )}
      {pulling && <PullDialog onClose={() => setPulling(false)} onPulled={images.reload} />}
      {runImage !== undefined && (
        <RunDialog
          image={runImage}
          onClose={() => setRunImage(undefined)}
          onStarted={props.onStarted}
        />
      )}
    </section>
  );
}
