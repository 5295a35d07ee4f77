/** The Images screen's smaller dialogs: tag, push (with progress) and history. */
import { useEffect, useState, type FormEvent } from 'react';
import type { ImageHistory, PushProgress } from '../../shared/contract.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Dialog, ErrorBanner } from '../components/common.js';
import { formatAge, formatBytes, newId, shortId } from '../format.js';
import { errorText, useAction, useBerth } from '../state.js';

/** `host:5000/team/app:1.2` → repo and tag (`latest` when none), as `docker tag` reads it. */
export function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(':');
  if (at > ref.lastIndexOf('/')) return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
  return { repo: ref, tag: 'latest' };
}

export function TagDialog(props: { source: string; onClose: () => void; onTagged: () => void }) {
  const berth = useBerth();
  const [target, setTarget] = useState('');
  const action = useAction();
  const valid = /^[a-z0-9][a-z0-9._\-/:]*$/.test(target.trim());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const { repo, tag } = splitRef(target.trim());
    void action
      .run(() => berth.invoke('images.tag', { source: props.source, repo, tag }))
      .then((ok) => {
        if (!ok) return;
        props.onTagged();
        props.onClose();
      });
  };
  return (
    <Dialog title="Tag an image" onClose={props.onClose}>
      <form className="form" onSubmit={submit}>
        <p className="muted">
          A new name for <code>{props.source}</code>.
        </p>
        <label>
          <span className="label">New name</span>
          <input
            data-autofocus
            value={target}
            placeholder="registry.example:5000/team/app:1.0"
            aria-invalid={target !== '' && !valid}
            onChange={(e) => setTarget(e.target.value)}
          />
        </label>
        <ErrorBanner error={action.error} />
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!valid || action.busy}>
            Tag
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function PushDialog(props: { refs: string[]; onClose: () => void }) {
  const berth = useBerth();
  const [ref, setRef] = useState(props.refs[0] ?? '');
  const [pushId, setPushId] = useState<string>();
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState<'idle' | 'pushing' | 'done'>('idle');
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!pushId) return;
    return berth.on('images.pushProgress', (p: PushProgress) => {
      if (p.pushId !== pushId) return;
      const line = p.layer ? `${p.layer}: ${p.status}` : p.status;
      // One line per layer, updated in place (as the CLI redraws it).
      setLines((ls) => {
        const i = p.layer ? ls.findIndex((l) => l.startsWith(`${p.layer}: `)) : -1;
        return i >= 0 ? ls.map((l, j) => (j === i ? line : l)) : [...ls, line];
      });
    });
  }, [berth, pushId]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const id = newId('push');
    setPushId(id);
    setLines([]);
    setError(undefined);
    setState('pushing');
    berth.invoke('images.push', { ref, pushId: id }).then(
      () => setState('done'),
      (e: unknown) => {
        setState('idle');
        setError(errorText(e));
      },
    );
  };
  return (
    <Dialog title="Push an image" onClose={props.onClose} wide>
      <form className="form" onSubmit={submit}>
        <label>
          <span className="label">Name to push</span>
          <select data-autofocus value={ref} onChange={(e) => setRef(e.target.value)}>
            {props.refs.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <ErrorBanner error={error} />
        {lines.length > 0 && (
          <pre className="pull-log" aria-label="Push progress">
            {lines.join('\n')}
          </pre>
        )}
        {state === 'done' && (
          <p className="ok" role="status">
            Pushed {ref}.
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            {state === 'done' ? 'Close' : 'Cancel'}
          </button>
          <button type="submit" className="primary" disabled={!ref || state === 'pushing'}>
            {state === 'pushing' ? 'Pushing…' : 'Push'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

const HISTORY_COLUMNS: readonly Column<ImageHistory>[] = [
  {
    header: 'Layer',
    cell: (h) => <code>{h.id === '<missing>' ? '<missing>' : shortId(h.id)}</code>,
  },
  { header: 'Created', className: 'nowrap', cell: (h) => formatAge(h.created) },
  { header: 'Created by', className: 'created-by', cell: (h) => <code>{h.createdBy || '—'}</code> },
  { header: 'Size', className: 'num', headClassName: 'num', cell: (h) => formatBytes(h.size) },
];

export function HistoryDialog(props: { image: string; onClose: () => void }) {
  const berth = useBerth();
  const [history, setHistory] = useState<ImageHistory[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    berth
      .invoke('images.history', { id: props.image })
      .then(setHistory, (e: unknown) => setError(errorText(e)));
  }, [berth, props.image]);
  return (
    <Dialog title={`History of ${props.image}`} onClose={props.onClose} wide>
      <ErrorBanner error={error} />
      {!history && !error && <p className="muted">Loading…</p>}
      {history && (
        <div className="scroll">
          <DataTable
            label="Image history"
            compact
            columns={HISTORY_COLUMNS}
            rows={history}
            rowKey={(h, i) => `${h.id}-${i}`}
            rowTestId="history-row"
          />
        </div>
      )}
    </Dialog>
  );
}
