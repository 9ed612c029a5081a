// A small menu at the pointer (right click); any click elsewhere, Escape or a scroll
// closes it.
import { useEffect } from 'react'

export interface MenuItem {
  label: string
  action: () => void
  disabled?: boolean
  hint?: string
}

export function ContextMenu({ x, y, items, onClose }: { x: number; y: number; items: MenuItem[]; onClose: () => void }) {
  useEffect(() => {
    const close = () => onClose()
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onClose()
    window.addEventListener('pointerdown', close)
    window.addEventListener('wheel', close)
    window.addEventListener('keydown', onKey)
    return () => {
      window.removeEventListener('pointerdown', close)
      window.removeEventListener('wheel', close)
      window.removeEventListener('keydown', onKey)
    }
  }, [onClose])
  return (
    <div className="context-menu" role="menu" style={{ left: x, top: y }} onPointerDown={(event) => event.stopPropagation()}>
      {items.map((item) => (
        <button
          key={item.label}
          role="menuitem"
          disabled={item.disabled}
          onClick={() => {
            onClose()
            item.action()
          }}
        >
          {item.label}
          {item.hint && <kbd>{item.hint}</kbd>}
        </button>
      ))}
    </div>
  )
}
