// Text as two people type it: a change to a shared text (Y.Text) is written as the few
// characters that differ, so that two people typing into the same prompt merge character
// by character, and a caret is moved past what someone else typed before it.
//
// Why a diff of the whole value rather than the input's own events: the editor's inputs are
// controlled (value + onChange), and a controlled input hands over the new value only. One
// change is one span replaced (typing, deleting, pasting over a selection), which the common
// prefix and suffix find exactly; `caret` (where the caret is after the change) settles
// where the span is when the text repeats around it ("aa" -> "aaa").
import type * as Y from 'yjs'

/** A change of a text: at `index`, `remove` characters are replaced by `insert`. */
export interface Splice {
  index: number
  remove: number
  insert: string
}

/** The one span `next` differs from `prev` in; null when they are equal. */
export function splice(prev: string, next: string, caret?: number): Splice | null {
  if (prev === next) return null
  const shortest = Math.min(prev.length, next.length)
  // The span ends at the caret when it is known; else it is put as late as it can be.
  const suffixLimit = caret === undefined ? shortest : Math.min(shortest, Math.max(0, next.length - caret))
  let prefix = 0
  let suffix = 0
  const common = (p: number, s: number) => prev[p] === next[p] && p < shortest - s
  const commonEnd = (s: number, p: number) => s < suffixLimit && s < shortest - p && prev[prev.length - 1 - s] === next[next.length - 1 - s]
  if (caret === undefined) {
    while (common(prefix, suffix)) prefix++
    while (commonEnd(suffix, prefix)) suffix++
  } else {
    while (commonEnd(suffix, prefix)) suffix++
    while (common(prefix, suffix)) prefix++
  }
  return { index: prefix, remove: prev.length - prefix - suffix, insert: next.slice(prefix, next.length - suffix) }
}

/** Writes `next` into `text` as the span that changed (inside the caller's transaction). */
export function applyText(text: Y.Text, next: string, caret?: number): void {
  const change = splice(text.toString(), next, caret)
  if (!change) return
  if (change.remove) text.delete(change.index, change.remove)
  if (change.insert) text.insert(change.index, change.insert)
}

/** One step of a Y.Text event's delta. */
export type Delta = { retain?: number; insert?: unknown; delete?: number }[]

/** Where a caret at `position` is after someone else's change `delta`: text inserted
 * before it pushes it on, text deleted before it pulls it back; text inserted right at
 * it stays after it, so that what the person goes on typing stays together. */
export function moveCaret(position: number, delta: Delta): number {
  let index = 0 // in the text before the change
  let moved = position
  for (const step of delta) {
    if (index >= position) break
    if (step.retain) index += step.retain
    else if (step.delete) {
      moved -= Math.min(step.delete, position - index)
      index += step.delete
    } else if (step.insert !== undefined) {
      moved += typeof step.insert === 'string' ? step.insert.length : 1
    }
  }
  return moved
}
