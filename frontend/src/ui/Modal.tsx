import { useEffect, type ReactNode } from 'react'

interface Props {
  title: string
  onClose: () => void
  children: ReactNode
  footer?: ReactNode
  wide?: boolean
}

/** A dialog over the page; Escape or a click outside closes it. */
export function Modal({ title, onClose, children, footer, wide }: Props) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.stopPropagation()
        onClose()
      }
    }
    window.addEventListener('keydown', onKey, true)
    return () => window.removeEventListener('keydown', onKey, true)
  }, [onClose])
  return (
    <div className="modal-backdrop" onMouseDown={(event) => event.target === event.currentTarget && onClose()}>
      <div className={wide ? 'modal wide' : 'modal'} role="dialog" aria-label={title}>
        <header>
          <h2>{title}</h2>
          <button className="icon" onClick={onClose} aria-label="Close" title="Close (Esc)">
            ×
          </button>
        </header>
        <div className="modal-body">{children}</div>
        {footer && <footer>{footer}</footer>}
      </div>
    </div>
  )
}

interface ConfirmProps {
  title: string
  /** The confirming button's text: what it does ("Delete", "Disable"). */
  confirm: string
  onConfirm: () => void
  onClose: () => void
  children: ReactNode
}

/** Asks once more before an action that cannot be undone: Cancel, or the danger button
 * (focused, so Enter confirms). */
export function ConfirmModal({ title, confirm, onConfirm, onClose, children }: ConfirmProps) {
  return (
    <Modal
      title={title}
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="danger primary" autoFocus onClick={onConfirm}>
            {confirm}
          </button>
        </>
      }
    >
      {children}
    </Modal>
  )
}

interface FormProps {
  /** The form's id, which the footer's submit button names. */
  id: string
  title: string
  /** The submit button's text. */
  submit: string
  disabled?: boolean
  wide?: boolean
  className?: string
  autoComplete?: string
  onSubmit: () => void
  onClose: () => void
  children: ReactNode
}

/** A dialog holding a form: its footer has Cancel and the submit button, and Enter in a
 * field submits too. `onSubmit` reports its own failures. */
export function FormModal({ id, title, submit, disabled, wide, className, autoComplete, onSubmit, onClose, children }: FormProps) {
  return (
    <Modal
      title={title}
      wide={wide}
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="primary" type="submit" form={id} disabled={disabled}>
            {submit}
          </button>
        </>
      }
    >
      <form
        id={id}
        className={className}
        autoComplete={autoComplete}
        onSubmit={(event) => {
          event.preventDefault()
          onSubmit()
        }}
      >
        {children}
      </form>
    </Modal>
  )
}
