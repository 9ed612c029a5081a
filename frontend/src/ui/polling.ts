// Reading something again every little while, only while the tab is shown: a hidden tab
// reads nothing (its turns go by empty), and showing it again reads at once.
import { useEffect } from 'react'

/** Calls `read` now and then again after `delay(found)` ms, where `found` is what it
 * returned (null for a turn skipped while the tab was hidden). Both are kept by identity:
 * pass stable functions (a `useCallback`, a module's function); a new `read` starts over. */
export function usePollWhileShown<T>(read: () => Promise<T>, delay: (found: NoInfer<T> | null) => number): void {
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let stopped = false
    const turn = async () => {
      const found = document.visibilityState === 'visible' ? await read() : null
      if (!stopped) timer = setTimeout(turn, delay(found))
    }
    const onVisible = () => {
      if (document.visibilityState !== 'visible') return
      clearTimeout(timer)
      turn()
    }
    turn()
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      stopped = true
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [read, delay])
}
