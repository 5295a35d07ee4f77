/** The frame of a top-level view: a titled section whose header holds a summary and the tools. */
import type { ReactNode } from 'react';

export function View(props: {
  /** Prefix of the heading's id (`images` → `images-title`), which names the section. */
  id: string;
  title: ReactNode;
  /** Muted text after the title (a count); rendered, even empty, whenever given. */
  summary?: ReactNode;
  /** Buttons at the right end of the header. */
  tools?: ReactNode;
  children?: ReactNode;
}) {
  return (
    <section className="view" aria-labelledby={`${props.id}-title`}>
      <header className="view-head">
        <h1 id={`${props.id}-title`}>{props.title}</h1>
        {props.summary !== undefined && <span className="muted">{props.summary}</span>}
        {props.tools !== undefined && (
          <>
            <span className="grow" />
            {props.tools}
          </>
        )}
      </header>
      {props.children}
    </section>
  );
}
