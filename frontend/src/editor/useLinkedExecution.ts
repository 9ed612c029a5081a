// An execution linked to (`/workflows/{id}?execution={execution id}`, as the Executions page
// and the workflow list link to them) is shown on the canvas once the workflow has opened.
import { useEffect } from 'react'
import { useCommands } from './commands'

export const EXECUTION_PARAM = 'execution'

export function useLinkedExecution(loaded: boolean): void {
  useEffect(() => {
    if (!loaded) return
    const params = new URLSearchParams(location.search)
    const executionId = params.get(EXECUTION_PARAM)
    if (!executionId) return
    useCommands.getState().openExecution(executionId)
    // Shown once: the address is the workflow's again, as after any other way of opening it.
    params.delete(EXECUTION_PARAM)
    const rest = params.toString()
    history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}`)
  }, [loaded])
}
