// Follows an execution's event stream (SSE; the session cookie authenticates it) into
// the store, and reads node outputs from the execution as nodes settle.
import { useEffect } from 'react'
import { api } from '../api/client'
import type { RunEvent } from '../api/types'
import { useEditor } from './store'

const NODE_EVENTS = ['node.started', 'node.progress', 'node.retrying', 'node.completed', 'node.failed', 'node.skipped', 'node.cancelled']
const FINAL_EVENTS = ['execution.completed', 'execution.failed', 'execution.cancelled']

export function useRunEvents(executionId: string | null): void {
  useEffect(() => {
    if (!executionId) return
    const { applyEvent, setExecution } = useEditor.getState()
    const source = new EventSource(api.streamUrl(executionId))
    let timer: ReturnType<typeof setTimeout> | undefined
    const refresh = (delay: number) => {
      clearTimeout(timer)
      timer = setTimeout(() => api.execution(executionId).then(setExecution, () => {}), delay)
    }
    const onEvent = (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as RunEvent
      applyEvent(event)
      if (FINAL_EVENTS.includes(event.type)) {
        source.close() // otherwise EventSource reconnects once the server ends the stream
        refresh(0)
      } else if (event.type === 'node.completed' || event.type === 'node.failed') refresh(250)
    }
    for (const type of ['execution.started', ...NODE_EVENTS, ...FINAL_EVENTS]) source.addEventListener(type, onEvent)
    return () => {
      source.close()
      clearTimeout(timer)
    }
  }, [executionId])
}
