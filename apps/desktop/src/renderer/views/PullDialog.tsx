import { useEffect, useState, type FormEvent } from 'react';
import type { PullProgress } from '../../shared/contract.js';
import { Dialog, ErrorBanner } from '../components/common.js';
import { formatBytes, newId } from '../format.js';
import { errorText, useBerth } from '../state.js';

interface Layer {
  id: string;
  status: string;
  current?: number;
  total?: number;
}

/** A layer's bar: download bytes while downloading, unpacking bytes while extracting. */
function LayerRow({ layer }: { layer: Layer }) {
  const done = /complete|already exists/i.test(layer.status);
  const max = layer.total ?? 0;
  const value = done ? max || 1 : (layer.current ?? 0);
  return (
    <li className="layer" data-testid="layer">
      <code>{layer.id}</code>
      <progress
        aria-label={`Layer ${layer.id}`}
        max={max || 1}
        value={done || max ? value : undefined}
      />
      <span className="layer-status">
        {layer.status}
        {!done && layer.total
          ? ` ${formatBytes(layer.current ?? 0)} / ${formatBytes(layer.total)}`
          : ''}
      </span>
    </li>
  );
}

export function PullDialog(props: { onClose: () => void; onPulled: (ref: string) => void }) {
  const berth = useBerth();
  const [ref, setRef] = useState('');
  const [pullId, setPullId] = useState<string>();
  const [layers, setLayers] = useState<Layer[]>([]);
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState(false);

  useEffect(() => {
    if (!pullId) return;
    return berth.on('images.pullProgress', (p: PullProgress) => {
      if (p.pullId !== pullId) return;
      if (!p.layer) {
        setLines((l) => [...l, p.status]);
        return;
      }
      const id = p.layer;
      setLayers((ls) => {
        const next = ls.some((l) => l.id === id) ? ls : [...ls, { id, status: '' }];
        return next.map((l) =>
          l.id === id ? { id, status: p.status, current: p.current, total: p.total ?? l.total } : l,
        );
      });
    });
  }, [berth, pullId]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const id = newId('pull');
    setPullId(id);
    setLayers([]);
    setLines([]);
    setError(undefined);
    setDone(false);
    berth.invoke('images.pull', { ref: ref.trim(), pullId: id }).then(
      (r) => {
        setDone(true);
        props.onPulled(r.ref);
      },
      (e: unknown) => {
        setPullId(undefined);
        setError(errorText(e));
      },
    );
  };
  const pulling = pullId !== undefined && !done && !error;

  return (
    <Dialog title="Pull an image" onClose={props.onClose} wide>
      <form onSubmit={submit} className="row">
        <label className="grow">
          <span className="label">Image</span>
          <input
            data-autofocus
            name="image"
            placeholder="e.g. nginx:alpine or 127.0.0.1:5000/app:1.0"
            value={ref}
            onChange={(e) => setRef(e.target.value)}
            disabled={pulling}
            required
          />
        </label>
        <button type="submit" className="primary" disabled={pulling || ref.trim() === ''}>
          {pulling ? 'Pulling…' : 'Pull'}
        </button>
      </form>
      <ErrorBanner error={error} />
      {layers.length > 0 && (
        <ul className="layers" aria-label="Layers">
          {layers.map((l) => (
            <LayerRow key={l.id} layer={l} />
          ))}
        </ul>
      )}
      {lines.length > 0 && (
        <pre className="pull-log" aria-label="Pull messages">
          {lines.join('\n')}
        </pre>
      )}
      {done && (
        <p className="ok" role="status">
          Pulled {ref.trim()}.
        </p>
      )}
    </Dialog>
  );
}
