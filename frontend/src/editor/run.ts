// The state of the execution shown on the canvas — one being followed live over its event
// stream, or a past one opened from the history — as pure functions of events and results.
import type { CancelReason, ErrorInfo, Execution, ExecutionStatus, NodeResult, OnError, RunEvent } from '../api/types'

/** A node's state on the canvas: as stored (`NodeResult.status`), or `queued` while a run
 * that has just started has not reached it. */
export type NodeStatus = 'queued' | NodeResult['status']

export interface NodeRunState {
  status: NodeStatus
  attempt: number
  durationMs: number | null
  error: ErrorInfo | null
  progress: string
  /** Why it was skipped. */
  reason?: string
  /** Why it was cancelled: the execution was, or a node failed under `stop`. */
  cancelReason?: CancelReason
  reused?: boolean
  pinned?: boolean
}

export interface RunState {
  executionId: string | null
  status: ExecutionStatus | null
  nodes: Record<string, NodeRunState>
  execution: Execution | null
  durationMs: number | null
  /** Following the execution's event stream (else a finished execution, as stored). */
  live: boolean
}

export const EMPTY_RUN: RunState = { executionId: null, status: null, nodes: {}, execution: null, durationMs: null, live: false }
export const FINISHED: readonly ExecutionStatus[] = ['succeeded', 'failed', 'cancelled']
/** Nothing runs it now: it ended, or it waits for a decision or a timer. */
const AT_REST: readonly ExecutionStatus[] = [...FINISHED, 'waiting']

const QUEUED: NodeRunState = { status: 'queued', attempt: 0, durationMs: null, error: null, progress: '' }

/** A run just started: every node queued, events to follow. */
export function startedRun(executionId: string, nodeIds: string[]): RunState {
  const nodes: Record<string, NodeRunState> = {}
  for (const id of nodeIds) nodes[id] = { ...QUEUED }
  return { executionId, status: 'running', nodes, execution: null, durationMs: null, live: true }
}

/** An execution as stored: finished ones are shown as they ended; one still running is
 * followed from its first event; one that waits is shown as it is and followed, to show it
 * go on once it is decided (here or anywhere else). */
export function openedRun(execution: Execution, nodeIds: string[]): RunState {
  if (!AT_REST.includes(execution.status)) return { ...startedRun(execution.execution_id, nodeIds), status: execution.status }
  const run = withResults({ ...EMPTY_RUN, executionId: execution.execution_id, status: execution.status, durationMs: execution.duration_ms }, execution)
  return execution.status === 'waiting' ? { ...run, live: true } : run
}

/** The run with the node results (outputs, attempts, durations) of the execution. */
export function withResults(run: RunState, execution: Execution): RunState {
  if (run.executionId !== execution.execution_id) return run
  const nodes = { ...run.nodes }
  for (const [id, result] of Object.entries(execution.nodes)) nodes[id] = fromResult(result, nodes[id]?.progress ?? '')
  return { ...run, nodes, execution }
}

function fromResult(result: NodeResult, progress: string): NodeRunState {
  return {
    progress,
    attempt: result.attempts,
    status: result.status,
    durationMs: result.duration_ms,
    error: result.error,
    cancelReason: result.reason ?? undefined,
    reused: result.reused || undefined,
    pinned: result.pinned || undefined,
  }
}

/** The run state after one event of the stream. */
export function reduceRun(run: RunState, event: RunEvent): RunState {
  switch (event.type) {
    case 'execution.started':
      return { ...run, status: 'running' }
    case 'execution.completed':
    case 'execution.failed':
    case 'execution.cancelled':
    case 'execution.waiting':
      return { ...run, status: event.status, durationMs: event.duration_ms }
    default: {
      const nodes = { ...run.nodes, [event.node_id]: reduceNode(run.nodes[event.node_id] ?? QUEUED, event) }
      // An execution that waited goes on with its nodes' events (it starts no more).
      const resumed = run.status === 'waiting' && event.type !== 'node.waiting'
      return { ...run, nodes, status: resumed ? 'running' : run.status, durationMs: resumed ? null : run.durationMs }
    }
  }
}

/** An event about one node. */
export type NodeEvent = Extract<RunEvent, { node_id: string }>

/** One node's state after an event about it; the type checker sees that every type of
 * node event is handled. */
function reduceNode(node: NodeRunState, event: NodeEvent): NodeRunState {
  switch (event.type) {
    case 'node.started':
      return { ...node, status: 'running', attempt: event.attempt, progress: event.attempt === 1 ? '' : node.progress }
    case 'node.progress':
      return { ...node, progress: node.progress + progressText(event.data) }
    case 'node.retrying':
      return { ...node, status: 'retrying', attempt: event.attempt, error: event.error }
    case 'node.completed':
      return { ...node, status: 'succeeded', attempt: event.attempts, durationMs: event.duration_ms, pinned: event.pinned || undefined }
    case 'node.failed':
      return { ...node, status: 'failed', attempt: event.attempts, durationMs: event.duration_ms, error: event.error }
    case 'node.skipped':
      return { ...node, status: 'skipped', reason: event.reason }
    case 'node.cancelled':
      return { ...node, status: 'cancelled', cancelReason: event.reason }
    case 'node.waiting':
      return { ...node, status: 'waiting' }
  }
}

const CANCELLED_LABELS: Record<CancelReason, string> = {
  cancelled: 'cancelled',
  upstream_failed: 'not run (upstream failed)',
  sibling_failed: 'stopped (another node failed)',
}

/** What a node's state reads as: a node cancelled because another failed says so,
 * rather than "cancelled" when nobody cancelled anything. */
export function statusLabel(node: Pick<NodeRunState, 'status' | 'cancelReason'>): string {
  if (node.status === 'cancelled') return CANCELLED_LABELS[node.cancelReason ?? 'cancelled']
  return node.status
}

/** How many nodes read as each label, in the order first met. */
export function statusCounts(nodes: Record<string, NodeRunState>): { label: string; status: NodeStatus; count: number }[] {
  const counts = new Map<string, { label: string; status: NodeStatus; count: number }>()
  for (const node of Object.values(nodes)) {
    const label = statusLabel(node)
    const known = counts.get(label)
    if (known) known.count += 1
    else counts.set(label, { label, status: node.status, count: 1 })
  }
  return [...counts.values()]
}

/** The node whose failure ended the execution: a failed node under `on_error: stop` (the
 * default), the one that ended first if the results say; else any failed node. */
export function failedNode(run: RunState, onError: (nodeId: string) => OnError | undefined): string | null {
  const failed = Object.keys(run.nodes).filter((id) => run.nodes[id].status === 'failed')
  const stopping = failed.filter((id) => (onError(id) ?? 'stop') === 'stop')
  const ended = (id: string) => run.execution?.nodes[id]?.finished_at ?? '\uffff'
  const candidates = (stopping.length ? stopping : failed).sort((a, b) => ended(a).localeCompare(ended(b)))
  return candidates[0] ?? null
}

/** LLM tokens and what code prints as they come; anything else a node reports, one JSON
 * line each. */
export function progressText(data: Record<string, unknown>): string {
  if (typeof data.token === 'string') return data.token
  if (typeof data.log === 'string' && Object.keys(data).length === 1) return data.log // code.python's print()
  return `${progressLine(data)}\n`
}

function progressLine(data: Record<string, unknown>): string {
  const attempt = data.attempt as { provider?: string; model?: string; outcome?: string; error?: string } | undefined
  if (attempt && typeof attempt === 'object' && Object.keys(data).length === 1) {
    // The model chain reports each provider it tries (tav.ai.chain).
    const parts = [attempt.provider, attempt.model].filter(Boolean).join(' · ')
    return `[${parts}${attempt.outcome ? `: ${attempt.outcome}` : ''}${attempt.error ? ` — ${attempt.error}` : ''}]`
  }
  return JSON.stringify(data)
}
