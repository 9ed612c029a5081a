// A handful of screens do not need a router library: the path, a way to change it, and a
// guard that a screen with unsaved work sets to be asked before it is left.
import { useSyncExternalStore } from 'react'

const CHANGE = 'tav:navigate'

/** Asked before the path changes; true when it holds the change back, to call `leave`
 * itself once the person has agreed. */
export type LeaveGuard = (leave: () => void) => boolean

let guard: LeaveGuard | null = null
let shown = location.pathname

/** Sets the guard; the function returned removes it (if it is still the one set). */
export function setLeaveGuard(next: LeaveGuard): () => void {
  guard = next
  return () => {
    if (guard === next) guard = null
  }
}

/** Goes to `path`, which may carry a query (`/workflows/{id}?execution=…`); the guard is
 * asked only when the screen changes, that is when the path without the query does. */
export function navigate(path: string): void {
  const target = new URL(path, location.href)
  if (target.pathname + target.search === location.pathname + location.search) return
  if (target.pathname !== location.pathname && guard?.(() => go(path))) return
  go(path)
}

/** Goes to `path` in place of the current entry of the history (a link used up, such as
 * an invite's, is not gone back to); no guard is asked. */
export function replace(path: string): void {
  history.replaceState(null, '', path)
  shown = new URL(path, location.href).pathname
  window.dispatchEvent(new Event(CHANGE))
}

function go(path: string): void {
  const target = new URL(path, location.href)
  if (target.pathname + target.search !== location.pathname + location.search) {
    history.pushState(null, '', path)
  }
  shown = target.pathname // what the guard compares the browser's moves with: the screen
  window.dispatchEvent(new Event(CHANGE))
}

// The browser's back and forward buttons: the path has already changed when the guard is
// asked, so while it holds the move back the path is put back, and the move made again if
// the person agrees. Registered before any screen subscribes, so that screens never see the
// path that is put back.
window.addEventListener('popstate', (event) => {
  const wanted = location.pathname
  if (wanted !== shown && guard?.(() => go(wanted))) {
    history.pushState(null, '', shown)
    event.stopImmediatePropagation()
    return
  }
  shown = wanted
})

function subscribe(callback: () => void): () => void {
  window.addEventListener('popstate', callback)
  window.addEventListener(CHANGE, callback)
  return () => {
    window.removeEventListener('popstate', callback)
    window.removeEventListener(CHANGE, callback)
  }
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => location.pathname)
}
