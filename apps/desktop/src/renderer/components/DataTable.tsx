/** The one table markup every list uses: column headers, rows, and a column of row actions. */
import type { ReactNode } from 'react';
import type { useAction } from '../state.js';

export interface Column<T> {
  /** What the `<th scope="col">` shows; may be a control (a select-all checkbox). */
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Class of the body cells (e.g. `num`, `nowrap`, `name-col`). */
  className?: string;
  /** Class of the header cell; `num` and `check-col` belong on both. */
  headClassName?: string;
}

/**
 * A button in a row's actions cell; `name` is its accessible name where the label alone is
 * ambiguous (`Remove web` in a list of many), else the label is.
 */
export interface RowAction {
  label: string;
  name?: string;
  onClick: () => void;
  danger?: boolean;
  disabled?: boolean;
}

/** A `<tbody>` of its own, with an optional heading row (compose projects). */
export interface RowGroup<T> {
  key: string;
  rows: readonly T[];
  head?: ReactNode;
  testId?: string;
  label?: string;
}

/**
 * A row's Remove button: `remove` runs as the view's `action` (its error shows in the view),
 * and the list reloads whether it worked or not.
 */
export function removeAction(
  name: string,
  action: ReturnType<typeof useAction>,
  remove: () => Promise<unknown>,
  reload: () => void,
): RowAction {
  return {
    label: 'Remove',
    name,
    danger: true,
    disabled: action.busy,
    onClick: () => void action.run(remove).then(reload),
  };
}

/** Absent entries (`false`, `null`) are skipped, so a list can say `cond && action`. */
export type RowActions = readonly (RowAction | false | null | undefined)[];

export function ActionButtons(props: { actions: RowActions }) {
  return (
    <>
      {props.actions.map(
        (a) =>
          a && (
            <button
              key={a.label}
              type="button"
              className={a.danger ? 'danger' : undefined}
              disabled={a.disabled}
              aria-label={a.name}
              onClick={a.onClick}
            >
              {a.label}
            </button>
          ),
      )}
    </>
  );
}

export function DataTable<T>(props: {
  /** The table's accessible name. */
  label: string;
  columns: readonly Column<T>[];
  /**
   * One body of rows: nothing while undefined (loading), `empty` when there are none. Or
   * `groups` for several bodies, always shown.
   */
  rows?: readonly T[] | undefined;
  empty?: ReactNode;
  groups?: readonly RowGroup<T>[];
  rowKey: (row: T, index: number) => string;
  /** `data-testid` of each row. */
  rowTestId?: string;
  /** Marks a row `aria-selected` (a list with checkboxes). */
  selected?: (row: T) => boolean;
  /** A last, unlabelled column of buttons. */
  actions?: (row: T) => RowActions;
  compact?: boolean;
}) {
  const { columns, actions } = props;
  if (!props.groups && !props.rows) return null;
  if (!props.groups && props.rows?.length === 0) return props.empty ?? null;
  const groups = props.groups ?? [{ key: '', rows: props.rows ?? [] }];
  return (
    <table className={props.compact ? 'table compact' : 'table'} aria-label={props.label}>
      <thead>
        <tr>
          {columns.map((c, i) => (
            <th key={i} scope="col" className={c.headClassName}>
              {c.header}
            </th>
          ))}
          {actions && (
            <th scope="col" className="actions-col">
              <span className="sr-only">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      {groups.map((g) => (
        <tbody key={g.key} data-testid={g.testId} aria-label={g.label}>
          {g.head}
          {g.rows.map((row, i) => (
            <tr
              key={props.rowKey(row, i)}
              data-testid={props.rowTestId}
              aria-selected={props.selected?.(row)}
            >
              {columns.map((c, j) => (
                <td key={j} className={c.className}>
                  {c.cell(row)}
                </td>
              ))}
              {actions && (
                <td className="actions-col">
                  <ActionButtons actions={actions(row)} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}
