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
import { MOD } from './format'
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
      const selection = copied()
      if (!selection) return
      event.preventDefault()
      let refused: unknown = event.clipboardData ? null : new Error('the browser gave no clipboard')
      try {
        event.clipboardData?.setData('text/plain', selection.text)
      } catch (error) {
        refused = error
      }
      tell(selection, refused)
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
      const selection = copied()
      if (!selection) return
      let refused: unknown = navigator.clipboard ? null : new Error('this page may not use the clipboard')
      try {
        await navigator.clipboard?.writeText(selection.text)
      } catch (error) {
        refused = error
      }
      tell(selection, refused)
    }
    const cut = async () => {
      await copy()
      useEditor.getState().deleteSelected()
    }
    const paste = async (at?: { x: number; y: number }) => {
      let text: string | null = null
      let refused: unknown = null
      try {
        text = (await navigator.clipboard?.readText()) ?? null
      } catch (error) {
        refused = error // no permission: what this browser kept may still be pasted
      }
      if (!text || !readClipboard(text)) text = kept()
      if (pasted(text, at ?? options.current.at())) return
      const { notify } = useEditor.getState()
      if (refused) notify('error', `Nothing to paste: the browser refused to read the clipboard (${reason(refused)}); paste with ${MOD}+V`)
      else notify('info', 'Nothing to paste: copy nodes first')
    }
    return { copy, cut, paste }
  }, [])
}

/** The selection as clipboard text (also kept in localStorage, where that works), or null. */
function copied(): Copy | null {
  const document = useEditor.getState().copy()
  if (!document) return null
  const text = JSON.stringify(document, null, 2)
  let kept = true
  try {
    localStorage.setItem(KEPT, text)
  } catch {
    kept = false // storage full or disabled: the system clipboard still gets it
  }
  return { text, kept, count: document.nodes.length + (Array.isArray(document.ui?.notes) ? document.ui.notes.length : 0) }
}

interface Copy {
  text: string
  count: number
  /** Kept in this browser's localStorage too. */
  kept: boolean
}

/** Says what was copied, and where to when the system clipboard refused it. */
function tell({ count, kept }: Copy, refused: unknown): void {
  const what = `${count} item${count === 1 ? '' : 's'}`
  const { notify } = useEditor.getState()
  if (!refused) notify('info', `Copied ${what}`)
  else if (kept) notify('info', `Copied ${what} for this browser only: the system clipboard refused them (${reason(refused)})`)
  else notify('error', `Not copied: the system clipboard refused (${reason(refused)}) and this browser keeps nothing`)
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
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
    return null // storage disabled: nothing kept, which the callers say
  }
}

function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null
  return Boolean(element && (element.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName)))
}

function selectedText(): boolean {
  return Boolean(window.getSelection()?.toString())
}
