// An execution linked to (`/workflows/{id}?execution={execution id}`, as the Executions page
// and the workflow list link to them) is shown on the canvas once the workflow has opened;
// with `&node={node id}` (the inbox's links to a waiting node), that node's panel opens.
import { useEffect } from 'react'
import { useCommands } from './commands'
import { useEditor } from './store'

export const EXECUTION_PARAM = 'execution'
export const NODE_PARAM = 'node'

export function useLinkedExecution(loaded: boolean): void {
  useEffect(() => {
    if (!loaded) return
    const params = new URLSearchParams(location.search)
    const executionId = params.get(EXECUTION_PARAM)
    if (!executionId) return
    const nodeId = params.get(NODE_PARAM)
    useCommands.getState().openExecution(executionId).then((opened) => {
      if (opened && nodeId && useEditor.getState().nodes.some((node) => node.id === nodeId)) useEditor.getState().select(nodeId)
    })
    // Shown once: the address is the workflow's again, as after any other way of opening it.
    params.delete(EXECUTION_PARAM)
    params.delete(NODE_PARAM)
    const rest = params.toString()
    history.replaceState(history.state, '', `${location.pathname}${rest ? `?${rest}` : ''}`)
  }, [loaded])
}
