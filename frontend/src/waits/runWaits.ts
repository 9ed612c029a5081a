// The waits of the execution shown on the canvas (GET /executions/{id}/waits), for the
// node cards, the run bar and the node panel: read when an execution is shown, and again
// whenever one of its nodes starts or stops waiting or its status changes (its events say
// so), and after a decision taken here.
import { useEffect } from 'react'
import { create } from 'zustand'
import { api } from '../api/client'
import type { User, Wait } from '../api/types'
import { useEditor } from '../editor/store'

interface RunWaits {
  executionId: string | null
  /** The signed-in member: whether they have approved a wait already. */
  user: Pick<User, 'id'> | null
  byNode: Record<string, Wait>
  error: string | null
  load(executionId: string | null): Promise<void>
  /** Reads the waits of the execution shown again. */
  reload(): Promise<void>
}

export const useRunWaits = create<RunWaits>()((set, get) => ({
  executionId: null,
  user: null,
  byNode: {},
  error: null,
  async load(executionId) {
    if (executionId !== get().executionId) set({ executionId, byNode: {}, error: null })
    if (!executionId) return
    try {
      const waits = await api.waits(executionId)
      if (get().executionId === executionId) set({ byNode: Object.fromEntries(waits.map((wait) => [wait.node_id, wait])), error: null })
    } catch (error) {
      if (get().executionId === executionId) set({ error: `The execution's waits could not be read: ${(error as Error).message}` })
    }
  },
  reload: () => get().load(get().executionId),
}))

/** Keeps `useRunWaits` in step with the execution shown, for a workflow with waits. */
export function useFollowRunWaits(user: Pick<User, 'id'>): void {
  const executionId = useEditor((state) => (state.run.executionId && state.nodes.some((node) => node.data.def.type === 'core.wait') ? state.run.executionId : null))
  // Changes when the run's status or the set of its waiting nodes does.
  const moment = useEditor((state) => `${state.run.status}:${waitingNodes(state.run.nodes).join(',')}`)
  useEffect(() => {
    useRunWaits.setState({ user })
  }, [user])
  useEffect(() => {
    useRunWaits.getState().load(executionId)
  }, [executionId, moment])
}

export function waitingNodes(nodes: Record<string, { status: string }>): string[] {
  return Object.keys(nodes).filter((id) => nodes[id].status === 'waiting')
}
