/** A small line chart in SVG: the last samples of one or two series, scaled to their peak. */
export interface Series {
  label: string;
  values: number[];
  className: string;
}

export function LineChart(props: {
  title: string;
  /** The current value(s) in words, also the chart's accessible description. */
  summary: string;
  series: Series[];
  /** The y axis top; by default the peak of the series. */
  max?: number;
  capacity: number;
}) {
  const W = 300;
  const H = 90;
  // Headroom above the peak, so a flat line is not drawn on the frame.
  const peak = Math.max(props.max ?? 0, ...props.series.flatMap((s) => s.values), 1e-9);
  const top = props.max ?? peak * 1.25;
  // Time runs left to right over the whole width: the first samples spread out, and once
  // `capacity` samples are in, the window scrolls.
  const span = Math.max(Math.min(props.series[0]?.values.length ?? 0, props.capacity) - 1, 1);
  const points = (values: number[]) =>
    values
      .map((v, i) => {
        const x = (i * W) / span;
        const y = H - (Math.min(v, top) / top) * (H - 4) - 2;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
  return (
    <figure className="chart">
      <figcaption>
        <span className="chart-title">{props.title}</span>
        <span className="chart-value">{props.summary}</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${props.title}: ${props.summary}`}
      >
        <line x1="0" y1={H - 1} x2={W} y2={H - 1} className="chart-axis" />
        {props.series.map((s) =>
          s.values.length > 1 ? (
            <g key={s.label} className={s.className}>
              <polygon
                className="area"
                points={`0,${H} ${points(s.values)} ${(((s.values.length - 1) * W) / span).toFixed(1)},${H}`}
              />
              <polyline points={points(s.values)} />
            </g>
          ) : null,
        )}
      </svg>
      {props.series.length > 1 && (
        <div className="chart-legend">
          {props.series.map((s) => (
            <span key={s.label} className={`legend ${s.className}`}>
              {s.label}
            </span>
          ))}
        </div>
      )}
    </figure>
  );
}
