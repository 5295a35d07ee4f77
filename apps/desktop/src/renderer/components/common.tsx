/** Small shared pieces: error banners, notices, empty states, the modal dialog, state badges. */
import { useEffect, useRef, type ReactNode } from 'react';
import type { ContainerState } from '../../shared/contract.js';
import { useEngineStatus } from '../state.js';

export function ErrorBanner(props: { error: string | undefined; onDismiss?: () => void }) {
  if (!props.error) return null;
  return (
    <div className="error" role="alert">
      <span className="error-text">{props.error}</span>
      {props.onDismiss && (
        <button type="button" className="link" onClick={props.onDismiss} aria-label="Dismiss error">
          ✕
        </button>
      )}
    </div>
  );
}

/**
 * Why a list could not load. While the Berth VM boots, the engine not answering is expected:
 * say it is starting (the status bar shows the stage) rather than showing a connection error.
 */
export function LoadError(props: { error: string | undefined }) {
  const status = useEngineStatus();
  if (!props.error) return null;
  if (status?.boot && status.state !== 'running') {
    return (
      <p className="notice" role="status">
        The Berth VM is starting ({status.boot.message}). This list fills in once the engine
        answers.
      </p>
    );
  }
  return <ErrorBanner error={props.error} />;
}

/** A short success report (`Removed 3 volumes…`); nothing while there is none. */
export function Notice(props: { text: string | undefined }) {
  if (!props.text) return null;
  return (
    <p className="ok" role="status">
      {props.text}
    </p>
  );
}

export function EmptyState(props: { title: string; children: ReactNode }) {
  return (
    <div className="empty" role="status">
      <h2>{props.title}</h2>
      {props.children}
    </div>
  );
}

export function StateBadge(props: { state: ContainerState }) {
  return <span className={`badge badge-${props.state}`}>{props.state}</span>;
}

/** A native modal <dialog>: focus moves in, Escape closes, focus returns to the opener. */
export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const { onClose } = props;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    d.showModal();
    // showModal() focuses the first control (the close button); start where typing goes.
    d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose();
    };
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('cancel', cancel);
      d.close();
    };
  }, [onClose]);
  return (
    <dialog ref={ref} className={props.wide ? 'wide' : undefined} aria-label={props.title}>
      <header className="dialog-head">
        <h2>{props.title}</h2>
        <button type="button" className="icon" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** Asks before something that cannot be undone; the safe choice has the focus. */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  error?: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div className="form">
        <div>{props.children}</div>
        <ErrorBanner error={props.error} />
        <div className="actions">
          <button type="button" data-autofocus onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="primary danger-fill"
            disabled={props.busy}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </Dialog>
  );
}
