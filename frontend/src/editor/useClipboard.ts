// Copy, cut and paste of the selected nodes and notes, as a workflow document in the
// clipboard's text (lib/clipboard.ts), so that they paste into another workflow or tab.
//
// The keyboard goes through the browser's own copy/cut/paste events, which can read and
// write the clipboard without asking for a permission. The context menu has no such
// event and uses the asynchronous Clipboard API; where it is missing (pages served over
// plain HTTP from another host than localhost) or refused, the copy is kept in this
// browser's localStorage instead, so copy and paste still work between the editor's tabs.
import { useEffect, useMemo, useRef } from 'react'
import type { WorkflowDocument } from '../api/types'
import { readClipboard } from '../lib/clipboard'
import { useEditor } from './store'

const KEPT = 'tav:clipboard'

export interface ClipboardActions {
  copy(): Promise<void>
  cut(): Promise<void>
  /** Pastes at `at` (flow coordinates), else where `at()` of the hook says. */
  paste(at?: { x: number; y: number }): Promise<void>
}

/** Listens to the copy/cut/paste events while `enabled`; `at()` says where pasted nodes
 * go (their top left corner, in flow coordinates). Returns the same actions for menus. */
export function useClipboard(enabled: boolean, at: () => { x: number; y: number }): ClipboardActions {
  const options = useRef({ enabled, at })
  options.current = { enabled, at }

  useEffect(() => {
    const ours = (event: ClipboardEvent) => options.current.enabled && !typing(event.target) && !selectedText()
    const onCopy = (event: ClipboardEvent) => {
      if (!ours(event)) return
      const text = copied()
      if (!text) return
      event.preventDefault()
      try {
        event.clipboardData?.setData('text/plain', text)
      } catch {
        // kept in localStorage by copied()
      }
      if (event.type === 'cut') useEditor.getState().deleteSelected()
    }
    const onPaste = (event: ClipboardEvent) => {
      if (!ours(event)) return
      const text = event.clipboardData ? event.clipboardData.getData('text/plain') : kept()
      if (pasted(text, options.current.at())) event.preventDefault()
    }
    document.addEventListener('copy', onCopy)
    document.addEventListener('cut', onCopy)
    document.addEventListener('paste', onPaste)
    return () => {
      document.removeEventListener('copy', onCopy)
      document.removeEventListener('cut', onCopy)
      document.removeEventListener('paste', onPaste)
    }
  }, [])

  return useMemo(() => {
    const copy = async () => {
      const text = copied()
      if (text) await navigator.clipboard?.writeText(text).catch(() => {})
    }
    const cut = async () => {
      await copy()
      useEditor.getState().deleteSelected()
    }
    const paste = async (at?: { x: number; y: number }) => {
      let text: string | null = null
      try {
        text = (await navigator.clipboard?.readText()) ?? null
      } catch {
        text = null // refused, or no permission to ask
      }
      if (!text || !readClipboard(text)) text = kept()
      if (!pasted(text, at ?? options.current.at())) useEditor.getState().notify('info', 'Nothing to paste: copy nodes first')
    }
    return { copy, cut, paste }
  }, [])
}

/** The selection as clipboard text (also kept in localStorage), or null. */
function copied(): string | null {
  const state = useEditor.getState()
  const document = state.copy()
  if (!document) return null
  const text = JSON.stringify(document, null, 2)
  try {
    localStorage.setItem(KEPT, text)
  } catch {
    // storage full or disabled: the system clipboard still has it
  }
  const count = document.nodes.length + (Array.isArray(document.ui?.notes) ? document.ui.notes.length : 0)
  state.notify('info', `Copied ${count} item${count === 1 ? '' : 's'}`)
  return text
}

/** Pastes `text` if it holds a workflow document; whether it did. */
function pasted(text: string | null, at: { x: number; y: number }): boolean {
  const document: WorkflowDocument | null = text ? readClipboard(text) : null
  if (!document) return false
  const count = useEditor.getState().paste(document, at)
  if (count) useEditor.getState().notify('info', `Pasted ${count} item${count === 1 ? '' : 's'}`)
  return count > 0
}

function kept(): string | null {
  try {
    return localStorage.getItem(KEPT)
  } catch {
    return null
  }
}

function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null
  return Boolean(element && (element.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName)))
}

function selectedText(): boolean {
  return Boolean(window.getSelection()?.toString())
}
