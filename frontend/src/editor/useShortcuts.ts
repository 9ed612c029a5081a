// The editor's keyboard shortcuts (the list is in ShortcutsHelp). Copy, cut and paste
// are the browser's own events (useClipboard), not handled here.
import { useEffect, useRef } from 'react'
import { useEditor } from './store'

export interface Shortcuts {
  save: () => void
  run: () => void
  runFrom: () => void
  help: () => void
  search: () => void
  fit: () => void
  zoomIn: () => void
  zoomOut: () => void
  tidy: () => void
  note: () => void
  history: () => void
  enabled: boolean
  /** Only what changes nothing: a viewer's. */
  readOnly?: boolean
}

export function useShortcuts(actions: Shortcuts): void {
  const ref = useRef(actions)
  ref.current = actions
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const a = ref.current
      if (!a.enabled) return
      const mod = event.ctrlKey || event.metaKey
      const key = event.key.toLowerCase()
      const target = event.target as HTMLElement
      const typing = target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)
      const state = useEditor.getState()
      const handled = (action: () => void) => {
        event.preventDefault()
        action()
      }
      const editing = (action: () => void) => handled(a.readOnly ? () => {} : action)
      if (mod && key === 's') return editing(a.save)
      if (mod && key === 'enter') return handled(event.shiftKey ? a.runFrom : a.run)
      if (typing) {
        if (key === 'escape') (target as HTMLElement).blur()
        return
      }
      if (mod && key === 'z' && !event.shiftKey) return editing(state.undo)
      if (mod && ((key === 'z' && event.shiftKey) || key === 'y')) return editing(state.redo)
      if (mod && key === 'a') return handled(state.selectAll)
      if (mod || event.altKey) return
      if (event.key === '?') return handled(a.help)
      if (key === '/') return handled(a.search)
      if (key === 'f') return handled(a.fit)
      if (key === 'l') return editing(a.tidy)
      if (key === 'n') return editing(a.note)
      if (key === 'h') return handled(a.history)
      if (key === '+' || key === '=') return handled(a.zoomIn)
      if (key === '-') return handled(a.zoomOut)
      if (key === 'escape') return handled(() => state.select(null))
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
