import { useCallback } from 'react'

/** Runs an action of a list page (revoke, enable, change a role…): its failure is shown
 * with `setError`, and the list is read again with `load` whether it succeeded or not (a
 * failed action may have changed part of it, or found it out of date). */
export function useReloadingAction(load: () => void, setError: (error: string | null) => void): (action: () => Promise<unknown>) => Promise<void> {
  return useCallback(
    async (action: () => Promise<unknown>) => {
      setError(null)
      try {
        await action()
      } catch (failure) {
        setError((failure as Error).message)
      }
      load()
    },
    [load, setError],
  )
}
