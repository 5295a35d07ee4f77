/** Live CPU, memory and network charts of one container, from its stats stream. */
import { useEffect, useState } from 'react';
import type { StatsSample } from '../../shared/contract.js';
import { LineChart } from '../components/Chart.js';
import { formatBytes, newId } from '../format.js';
import { errorText, useBerth } from '../state.js';

const CAPACITY = 60;

interface Point {
  cpu: number;
  mem: number;
  memLimit: number;
  /** Bytes per second since the previous sample. */
  rx: number;
  tx: number;
}

export function StatsView(props: { id: string; running: boolean }) {
  const berth = useBerth();
  const [points, setPoints] = useState<Point[]>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (!props.running) return;
    const streamId = newId('stats');
    let last: StatsSample | undefined;
    setPoints([]);
    setError(undefined);
    const offSample = berth.on('stats.sample', (s) => {
      if (s.streamId !== streamId) return;
      const dt = last ? Math.max((s.time - last.time) / 1000, 0.001) : 0;
      const rate = (now: number, before: number | undefined) =>
        dt && before !== undefined ? Math.max(0, (now - before) / dt) : 0;
      const p: Point = {
        cpu: s.cpuPercent,
        mem: s.memUsage,
        memLimit: s.memLimit,
        rx: rate(s.netRx, last?.netRx),
        tx: rate(s.netTx, last?.netTx),
      };
      last = s;
      setPoints((ps) => [...ps, p].slice(-CAPACITY));
    });
    const offEnd = berth.on('stats.end', (e) => {
      if (e.streamId === streamId && e.error) setError(e.error);
    });
    berth.invoke('stats.follow', { id: props.id, streamId }).catch((e: unknown) => {
      setError(errorText(e));
    });
    return () => {
      offSample();
      offEnd();
      void berth.invoke('stream.cancel', { streamId }).catch(() => undefined);
    };
  }, [berth, props.id, props.running]);

  if (!props.running)
    return (
      <p className="muted" role="status">
        The container is not running: there is nothing to measure.
      </p>
    );
  const now = points.at(-1);
  return (
    <div className="stats" aria-live="off">
      {error && (
        <p className="muted" role="alert">
          {error}
        </p>
      )}
      {!now && !error && <p className="muted">Waiting for the first sample…</p>}
      {now && <p className="muted small">The last {points.length} s, one sample a second.</p>}
      {now && (
        <div className="charts">
          <LineChart
            title="CPU"
            summary={`${now.cpu.toFixed(1)} %`}
            series={[{ label: 'CPU', values: points.map((p) => p.cpu), className: 's1' }]}
            max={100}
            capacity={CAPACITY}
          />
          <LineChart
            title="Memory"
            summary={`${formatBytes(now.mem)}${now.memLimit ? ` of ${formatBytes(now.memLimit)}` : ''}`}
            series={[{ label: 'Memory', values: points.map((p) => p.mem), className: 's1' }]}
            capacity={CAPACITY}
          />
          <LineChart
            title="Network"
            summary={`↓ ${formatBytes(now.rx)}/s  ↑ ${formatBytes(now.tx)}/s`}
            series={[
              { label: 'Received', values: points.map((p) => p.rx), className: 's1' },
              { label: 'Sent', values: points.map((p) => p.tx), className: 's2' },
            ]}
            capacity={CAPACITY}
          />
        </div>
      )}
    </div>
  );
}
