/** Confirm, prune, report: the flow of every "Prune unused" button. */
import type { ReactNode } from 'react';
import type { useAction } from '../state.js';
import { ConfirmDialog } from './common.js';

export function PruneDialog(props: {
  title: string;
  confirmLabel: string;
  /** The view's action: its busy flag and error show in the dialog. */
  action: ReturnType<typeof useAction>;
  /** Prunes and returns the sentence that reports what went. */
  prune: () => Promise<string>;
  onPruned: (report: string) => void;
  onClose: () => void;
  /** After every attempt, whether it failed or not (the list reloads). */
  onSettled: () => void;
  children: ReactNode;
}) {
  const { action } = props;
  return (
    <ConfirmDialog
      title={props.title}
      confirmLabel={props.confirmLabel}
      busy={action.busy}
      error={action.error}
      onClose={() => {
        props.onClose();
        action.clear();
      }}
      onConfirm={() =>
        void action
          .run(async () => props.onPruned(await props.prune()))
          .then((ok) => {
            if (ok) props.onClose();
            props.onSettled();
          })
      }
    >
      {props.children}
    </ConfirmDialog>
  );
}
