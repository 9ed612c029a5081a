// A handful of screens do not need a router library: the path, and a way to change it.
import { useSyncExternalStore } from 'react'

const CHANGE = 'tav:navigate'

export function navigate(path: string): void {
  if (path === location.pathname) return
  history.pushState(null, '', path)
  window.dispatchEvent(new Event(CHANGE))
}

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
