// The state of the execution shown on the canvas — one being followed live over its event
// stream, or a past one opened from the history — as pure functions of events and results.
import type { ErrorInfo, Execution, NodeResult, RunEvent } from '../api/types'

export type NodeStatus = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'

export interface NodeRunState {
  status: NodeStatus
  attempt: number
  durationMs: number | null
  error: ErrorInfo | null
  progress: string
  reason?: string
  reused?: boolean
  pinned?: boolean
}

export interface RunState {
  executionId: string | null
  status: string | null
  nodes: Record<string, NodeRunState>
  execution: Execution | null
  durationMs: number | null
  /** Following the execution's event stream (else a finished execution, as stored). */
  live: boolean
}

export const EMPTY_RUN: RunState = { executionId: null, status: null, nodes: {}, execution: null, durationMs: null, live: false }
export const FINISHED = ['succeeded', 'failed', 'cancelled']

const QUEUED: NodeRunState = { status: 'queued', attempt: 0, durationMs: null, error: null, progress: '' }
const NODE_STATUS: Record<string, NodeStatus> = {
  'node.started': 'running',
  'node.retrying': 'retrying',
  'node.completed': 'succeeded',
  'node.failed': 'failed',
  'node.skipped': 'skipped',
  'node.cancelled': 'cancelled',
}

/** A run just started: every node queued, events to follow. */
export function startedRun(executionId: string, nodeIds: string[]): RunState {
  const nodes: Record<string, NodeRunState> = {}
  for (const id of nodeIds) nodes[id] = { ...QUEUED }
  return { executionId, status: 'running', nodes, execution: null, durationMs: null, live: true }
}

/** An execution as stored: finished ones are shown as they ended; one still running is
 * followed from its first event. */
export function openedRun(execution: Execution, nodeIds: string[]): RunState {
  if (!FINISHED.includes(execution.status)) return { ...startedRun(execution.execution_id, nodeIds), status: execution.status }
  return withResults({ ...EMPTY_RUN, executionId: execution.execution_id, status: execution.status, durationMs: execution.duration_ms }, execution)
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
    status: result.status as NodeStatus,
    durationMs: result.duration_ms,
    error: result.error,
    reused: result.reused || undefined,
    pinned: result.pinned || undefined,
  }
}

/** The run state after one event of the stream. */
export function reduceRun(run: RunState, event: RunEvent): RunState {
  if (event.type.startsWith('execution.')) {
    if (event.type === 'execution.started') return { ...run, status: 'running' }
    return { ...run, status: event.status ?? event.type.slice('execution.'.length), durationMs: event.duration_ms ?? null }
  }
  const id = event.node_id
  if (!id) return run
  const node = run.nodes[id] ?? QUEUED
  let next: NodeRunState = { ...node }
  if (event.type === 'node.progress') next.progress = node.progress + progressText(event.data ?? {})
  else {
    next = { ...next, status: NODE_STATUS[event.type] ?? node.status }
    if (event.attempt) next.attempt = event.attempt
    if (event.attempts) next.attempt = event.attempts
    if (event.duration_ms !== undefined) next.durationMs = event.duration_ms
    if (event.error !== undefined) next.error = event.error ?? null
    if (event.reason) next.reason = event.reason
    if (event.type === 'node.completed' && (event as { pinned?: boolean }).pinned) next.pinned = true
    if (event.type === 'node.started' && (event.attempt ?? 1) === 1) next.progress = ''
  }
  return { ...run, nodes: { ...run.nodes, [id]: next } }
}

/** LLM tokens as they come; anything else a node reports, one JSON line each. */
export function progressText(data: Record<string, unknown>): string {
  if (typeof data.token === 'string') return data.token
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
