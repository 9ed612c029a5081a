import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import type { ExecutionSummary, Wait } from '../api/types'
import { formFields } from './approvalForm'
import { approvalCount, decisionFailure, dueText, inbox, isMine, waitLink, waitsFor, whoMayDecide } from './waits'

const ME = { id: 'u1' }
const NOW = Date.parse('2026-12-07T10:00:00Z')

function wait(change: Partial<Wait> = {}): Wait {
  return {
    node_id: 'ask',
    mode: 'approval',
    status: 'open',
    title: 'Pay invoice 42?',
    description: '',
    fields: null,
    due_at: null,
    created_at: '2026-12-07T09:00:00Z',
    decided_at: null,
    approvals_needed: 1,
    approvals: [],
    approvers: [],
    approver_roles: [],
    anyone_with_link: true,
    may_decide: true,
    ...change,
  }
}

function waiting(id: string, waits: Wait[], status: ExecutionSummary['status'] = 'waiting'): ExecutionSummary {
  return { execution_id: id, workflow: 'Invoices', workflow_id: 'w'.repeat(32), workflow_version: 1, status, mode: 'editor', parent_execution_id: null, error: null, started_at: '2026-12-07T09:00:00Z', finished_at: null, duration_ms: null, waits }
}

const approval = (by: string, decision: 'approve' | 'reject' = 'approve') => ({ decision, comment: '', data: {}, by: { id: by, email: `${by}@x.io` }, at: '2026-12-07T09:30:00Z' })

describe('what waits for the signed-in member', () => {
  it('is every open wait they may decide and have not approved yet', () => {
    expect(isMine(wait(), ME)).toBe(true)
    expect(isMine(wait({ may_decide: false }), ME)).toBe(false)
    expect(isMine(wait({ status: 'decided' }), ME)).toBe(false)
    expect(isMine(wait({ approvals_needed: 2, approvals: [approval('u1')] }), ME)).toBe(false)
    expect(isMine(wait({ approvals_needed: 2, approvals: [approval('u2')] }), ME)).toBe(true)
  })

  it('is split from what waits for others, across executions, newest first', () => {
    const items = [
      waiting('e2', [wait({ node_id: 'a' }), wait({ node_id: 'b', may_decide: false })]),
      waiting('e1', [wait({ node_id: 'c' })]),
      waiting('e0', [wait({ node_id: 'd' })], 'running'), // resumed meanwhile
    ]
    const { mine, others } = inbox(items, ME)
    expect(mine.map((entry) => `${entry.execution.execution_id}:${entry.wait.node_id}`)).toEqual(['e2:a', 'e1:c'])
    expect(others.map((entry) => entry.wait.node_id)).toEqual(['b'])
  })

  it('opens at its node on its workflow, if the workflow is stored', () => {
    expect(waitLink({ execution_id: 'e1', workflow_id: 'w1' }, 'ask me')).toBe('/workflows/w1?execution=e1&node=ask%20me')
    expect(waitLink({ execution_id: 'e1', workflow_id: null }, 'ask')).toBeNull()
  })
})

describe('what a wait waits for', () => {
  it('is said in a few words, a due time from now', () => {
    expect(waitsFor(wait(), NOW)).toBe('an approval: Pay invoice 42?')
    expect(waitsFor(wait({ mode: 'webhook', title: '' }), NOW)).toBe('a call of its link (webhook)')
    expect(waitsFor(wait({ mode: 'timer', due_at: '2026-12-07T12:00:00Z' }), NOW)).toBe('a timer, in 2 h')
    expect(waitsFor(wait({ mode: 'execution', executions: ['c1'] }), NOW)).toBe('a sub-workflow execution to end')
    expect(waitsFor(wait({ mode: 'execution', executions: ['c1', 'c2'] }), NOW)).toBe('2 sub-workflow executions to end')
    expect(dueText('2026-12-07T10:05:00Z', NOW)).toBe('in 5 min')
    expect(dueText('2026-12-10T10:00:00Z', NOW)).toBe('in 3 days')
    expect(dueText('2026-12-07T09:00:00Z', NOW)).toBe('due now')
  })

  it('says who may decide it and how many approvals it has', () => {
    expect(whoMayDecide(wait())).toBe('anyone holding its link; members with the editor role or above')
    expect(whoMayDecide(wait({ mode: 'execution' }))).toBe('nobody: it goes on once they end (decide their waits)')
    expect(whoMayDecide(wait({ anyone_with_link: false }))).toBe('members with the editor role or above')
    expect(whoMayDecide(wait({ approvers: ['cfo@x.io'], approver_roles: ['admin'], anyone_with_link: false }))).toBe('cfo@x.io; admins and above')
    expect(whoMayDecide(wait({ approvers: ['cfo@x.io'], anyone_with_link: true }))).toBe('cfo@x.io; anyone holding its link')
    expect(approvalCount(wait())).toBe('')
    expect(approvalCount(wait({ approvals_needed: 2, approvals: [approval('u2')] }))).toBe('1 of 2 approvals')
  })
})

describe('a refused decision', () => {
  const fields = formFields({ type: 'object', properties: { amount: { type: 'integer' } } })

  it('422: the form’s problems go next to their fields', () => {
    const failure = decisionFailure(new ApiError(422, 'form_invalid', 'the answer does not fit', [{ field: 'amount', message: 'must be at least 1' }]), fields)
    expect(failure.fields).toEqual({ amount: 'must be at least 1' })
    expect(failure.message).toMatch(/a field needs another value/)
    expect(failure.gone).toBe(false)
  })

  it('409 and 410: decided by someone else or over, and the form is of no more use', () => {
    const taken = decisionFailure(new ApiError(409, 'conflict', 'this wait has been decided', null))
    expect(taken).toEqual({ message: 'Already decided by someone else, or no longer open: this wait has been decided.', fields: {}, gone: true })
    const twice = decisionFailure(new ApiError(409, 'conflict', "you have approved this already; it needs another person's approval", { approvals: 1, needed: 2 }))
    expect(twice.message).toBe("You have approved this already: it needs another person's approval.")
    const over = decisionFailure(new ApiError(410, 'gone', 'the execution was cancelled', null))
    expect(over.message).toBe('This wait is over: the execution was cancelled.')
    expect(over.gone).toBe(true)
  })

  it('403 says who may, and keeps the form', () => {
    const refused = decisionFailure(new ApiError(403, 'forbidden', 'only cfo@x.io may decide this', null))
    expect(refused).toEqual({ message: 'You may not decide this: only cfo@x.io may decide this.', fields: {}, gone: false })
  })
})
