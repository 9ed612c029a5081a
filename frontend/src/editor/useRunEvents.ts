// Follows an execution's event stream (SSE; the session cookie authenticates it) into
// the store, and reads node outputs from the execution as nodes settle. The stream of an
// execution that waits ends at `execution.waiting`; it is opened again after that event,
// which follows the execution on once it resumes.
import { useEffect } from 'react'
import { api } from '../api/client'
import type { RunEvent } from '../api/types'
import { useEditor } from './store'

/** What each type of event asks for besides the canvas update: `final` ends the stream and
 * reads the execution, `settled` reads a node's outputs soon. Keyed by every event type,
 * so a type the server adds fails the type check here until it is followed. */
const FOLLOW: Record<RunEvent['type'], 'final' | 'settled' | null> = {
  'execution.started': null,
  'node.started': null,
  'node.progress': null,
  'node.retrying': null,
  'node.completed': 'settled',
  'node.failed': 'settled',
  'node.skipped': null,
  'node.cancelled': null,
  'node.waiting': 'settled',
  'execution.completed': 'final',
  'execution.failed': 'final',
  'execution.cancelled': 'final',
  'execution.waiting': 'final',
}

export function useRunEvents(executionId: string | null): void {
  useEffect(() => {
    if (!executionId) return
    const { applyEvent, setExecution, notify } = useEditor.getState()
    let source: EventSource
    let seq = 0 // the last event applied
    let timer: ReturnType<typeof setTimeout> | undefined
    const read = async () => {
      try {
        setExecution(await api.execution(executionId))
      } catch (error) {
        notify('error', `The execution's results could not be read: ${(error as Error).message}`)
      }
    }
    const refresh = (delay: number) => {
      clearTimeout(timer)
      timer = setTimeout(read, delay)
    }
    const onEvent = (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as RunEvent
      seq = Math.max(seq, event.seq)
      applyEvent(event)
      if (FOLLOW[event.type] === 'final') {
        source.close() // otherwise EventSource reconnects once the server ends the stream
        refresh(0)
        // One that waits goes on once it is decided (here, through its link, by anyone):
        // its events after this one come when it does.
        if (event.type === 'execution.waiting') follow()
      } else if (FOLLOW[event.type] === 'settled') refresh(250)
    }
    // The browser reconnects by itself after a dropped connection; it gives up (CLOSED)
    // when the server refuses the stream, and the execution as stored is all there is.
    const onError = () => {
      if (source.readyState !== EventSource.CLOSED) return
      notify('error', 'The execution can no longer be followed live: its event stream was refused')
      refresh(0)
    }
    const follow = () => {
      source = new EventSource(api.streamUrl(executionId, seq))
      source.onerror = onError
      for (const type of Object.keys(FOLLOW)) source.addEventListener(type, onEvent)
    }
    follow()
    return () => {
      source.close()
      clearTimeout(timer)
    }
  }, [executionId])
}
