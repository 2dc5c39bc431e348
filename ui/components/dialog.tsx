// A modal dialog on the native <dialog>: showModal() traps focus and Escape closes it, with no
// focus-trap code of ours. Closing (button, Escape) calls onClose; the owner then unmounts it.
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

export function Dialog({
  title,
  onClose,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    // Focus returns to what opened the dialog once it is gone.
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    const closed = () => closeRef.current();
    d.addEventListener('close', closed);
    return () => {
      d.removeEventListener('close', closed);
      if (d.open) d.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog ref={ref} class={wide ? 'dialog dialog-wide' : 'dialog'} aria-labelledby={id}>
      <div class="dialog-head">
        <h2 id={id}>{title}</h2>
        <button type="button" class="btn-icon" aria-label="Close" onClick={() => ref.current?.close()}>
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}

/** Asks before a destructive change. */
export function Confirm({
  title,
  message,
  action,
  onConfirm,
  onClose,
}: {
  title: string;
  message: ComponentChildren;
  action: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Dialog title={title} onClose={onClose}>
      <div class="dialog-body">{message}</div>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          class="btn btn-danger"
          onClick={() => {
            onConfirm();
            onClose();
          }}
        >
          {action}
        </button>
      </div>
    </Dialog>
  );
}
