/** The row of filters above a list or a log: a search field and whatever controls follow. */
import type { AriaRole, ReactNode } from 'react';

export function Toolbar(props: { role?: AriaRole; label?: string; children: ReactNode }) {
  return (
    <div className="row toolbar" role={props.role} aria-label={props.label}>
      {props.children}
    </div>
  );
}

/** A search input that takes the free width; `label` is its accessible name. */
export function SearchField(props: {
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label className="grow">
      <span className="sr-only">{props.label}</span>
      <input
        type="search"
        placeholder={props.placeholder}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </label>
  );
}
