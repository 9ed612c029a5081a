import { describe, expect, it } from 'vitest'
import type { Execution, NodeResult } from '../api/types'
import { storedExecution } from '../lib/fixtures'
import { failedNode, openedRun, reduceRun, statusCounts, statusLabel, type RunState } from './run'

const about = { seq: 1, execution_id: 'e', at: '' }
const running: RunState = { executionId: 'e', status: 'running', nodes: {}, execution: null, durationMs: null, live: true }

describe('why a node was cancelled', () => {
  it('reads "not run (upstream failed)" for a node after a failure, from its event', () => {
    let run = reduceRun(running, { ...about, type: 'node.cancelled', node_id: 'after', reason: 'upstream_failed' })
    run = reduceRun(run, { ...about, type: 'node.cancelled', node_id: 'beside', reason: 'sibling_failed' })
    run = reduceRun(run, { ...about, type: 'node.cancelled', node_id: 'stopped', reason: 'cancelled' })
    expect(statusLabel(run.nodes.after)).toBe('not run (upstream failed)')
    expect(statusLabel(run.nodes.beside)).toBe('stopped (another node failed)')
    expect(statusLabel(run.nodes.stopped)).toBe('cancelled')
  })

  it('reads the same from a stored result; one stored without a reason reads cancelled', () => {
    const cancelled = (reason?: NodeResult['reason']): NodeResult => ({ status: 'cancelled', attempts: 0, outputs: {}, error: null, reason, started_at: null, finished_at: null, duration_ms: null })
    const execution = stored({ a: cancelled('upstream_failed'), b: cancelled() })
    const run = openedRun(execution, ['a', 'b'])
    expect(statusLabel(run.nodes.a)).toBe('not run (upstream failed)')
    expect(statusLabel(run.nodes.b)).toBe('cancelled')
  })

  it('counts nodes by what they read as', () => {
    let run = reduceRun(running, { ...about, type: 'node.completed', node_id: 'a', attempts: 1, ports: ['output'], duration_ms: 1, pinned: false })
    run = reduceRun(run, { ...about, type: 'node.cancelled', node_id: 'b', reason: 'upstream_failed' })
    run = reduceRun(run, { ...about, type: 'node.cancelled', node_id: 'c', reason: 'upstream_failed' })
    run = reduceRun(run, { ...about, type: 'node.cancelled', node_id: 'd', reason: 'cancelled' })
    expect(statusCounts(run.nodes)).toEqual([
      { label: 'succeeded', status: 'succeeded', count: 1 },
      { label: 'not run (upstream failed)', status: 'cancelled', count: 2 },
      { label: 'cancelled', status: 'cancelled', count: 1 },
    ])
  })
})

describe('the node whose failure ended the execution', () => {
  const failed = (finished: string): NodeResult => ({ status: 'failed', attempts: 1, outputs: {}, error: { type: 'fail', message: 'x' }, started_at: null, finished_at: finished, duration_ms: 1 })

  it('is the failed node under on_error: stop, not one that continued', () => {
    const run = openedRun(stored({ soft: failed('2026-01-01T00:00:00.1Z'), hard: failed('2026-01-01T00:00:00.2Z') }), ['soft', 'hard'])
    expect(failedNode(run, (id) => (id === 'soft' ? 'continue' : undefined))).toBe('hard')
  })

  it('is the first to have ended when several failed, and none when none did', () => {
    const run = openedRun(stored({ late: failed('2026-01-01T00:00:00.9Z'), early: failed('2026-01-01T00:00:00.1Z') }), ['late', 'early'])
    expect(failedNode(run, () => 'stop')).toBe('early')
    expect(failedNode(openedRun(stored({}), []), () => 'stop')).toBeNull()
  })

  it('is found in a live run before its results are read', () => {
    const run = reduceRun(running, { ...about, type: 'node.failed', node_id: 'boom', attempts: 1, error: { type: 'fail', message: 'x' }, duration_ms: 1 })
    expect(failedNode(run, () => undefined)).toBe('boom')
  })
})

function stored(nodes: Record<string, NodeResult>): Execution {
  return storedExecution({ status: 'failed', mode: 'editor', nodes })
}

describe('an execution that waits', () => {
  const waitingRun: RunState = { ...running, status: 'waiting', durationMs: 12, nodes: { ask: { status: 'waiting', attempt: 1, durationMs: null, error: null, progress: '' } } }

  it('waits once its node does and the execution says so', () => {
    let run = reduceRun(running, { ...about, type: 'node.waiting', node_id: 'ask', mode: 'approval', due_at: null })
    expect(run.nodes.ask.status).toBe('waiting')
    expect(run.status).toBe('running')
    run = reduceRun(run, { ...about, type: 'execution.waiting', status: 'waiting', duration_ms: 12, error: null })
    expect(run.status).toBe('waiting')
  })

  it('runs again with the first event of its nodes once decided', () => {
    const run = reduceRun(waitingRun, { ...about, type: 'node.completed', node_id: 'ask', attempts: 1, ports: ['approved'], duration_ms: 5, pinned: false })
    expect(run.status).toBe('running')
    expect(run.durationMs).toBeNull()
    expect(run.nodes.ask.status).toBe('succeeded')
  })

  it('opened from the history, is followed to show it go on', () => {
    const result: NodeResult = { status: 'waiting', attempts: 1, outputs: {}, error: null, started_at: null, finished_at: null, duration_ms: null }
    const run = openedRun({ ...stored({ ask: result }), status: 'waiting' }, ['ask'])
    expect(run.live).toBe(true)
    expect(run.status).toBe('waiting')
    expect(run.nodes.ask.status).toBe('waiting')
    expect(openedRun(stored({}), []).live).toBe(false)
  })
})
