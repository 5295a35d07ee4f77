/** Text with ANSI colours as styled spans (container logs, the build log). */
import { parseAnsi } from '../../shared/ansi.js';

export function AnsiText(props: { text: string }) {
  return (
    <>
      {parseAnsi(props.text).map((seg, i) =>
        seg.fg === undefined && !seg.bold ? (
          seg.text
        ) : (
          <span
            key={i}
            className={`${seg.fg !== undefined ? `ansi${seg.fg}` : ''}${seg.bold ? ' ansi-bold' : ''}`}
          >
            {seg.text}
          </span>
        ),
      )}
    </>
  );
}
