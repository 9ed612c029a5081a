// Waits (`core.wait`) as the editor shows them: what each waits for, who may decide it,
// which are the signed-in member's to decide (the inbox), and what a refused decision
// means to the person who sent it (docs/reference/waits.md#the-api).
import { ApiError } from '../api/client'
import type { ExecutionSummary, Role, User, Wait } from '../api/types'
import { problemsByField, type FieldProblem, type FormField } from './approvalForm'
import { executionLink } from './executions'

/** A wait of a waiting execution, with that execution. */
export interface WaitEntry {
  execution: ExecutionSummary
  wait: Wait
}

/** Whether `user` has approved the wait already (an approval needing several people). */
export function approvedBy(wait: Pick<Wait, 'approvals'>, user: Pick<User, 'id'>): boolean {
  return wait.approvals.some((decision) => decision.by?.id === user.id)
}

/** Whether the wait is `user`'s to decide now: open, theirs by the API's word
 * (`may_decide`), and not approved by them already. */
export function isMine(wait: Pick<Wait, 'status' | 'may_decide' | 'approvals'>, user: Pick<User, 'id'>): boolean {
  return wait.status === 'open' && wait.may_decide && !approvedBy(wait, user)
}

/** The open waits of the waiting executions listed, split into those `user` may decide now
 * and the rest, each newest first (as the list is). */
export function inbox(items: readonly ExecutionSummary[], user: Pick<User, 'id'>): { mine: WaitEntry[]; others: WaitEntry[] } {
  const mine: WaitEntry[] = []
  const others: WaitEntry[] = []
  for (const execution of items) {
    if (execution.status !== 'waiting') continue
    for (const wait of execution.waits ?? []) {
      if (wait.status !== 'open') continue
      ;(isMine(wait, user) ? mine : others).push({ execution, wait })
    }
  }
  return { mine, others }
}

/** Where a wait opens: its workflow in the editor, showing the execution, with the waiting
 * node's panel open (`node`); none when the workflow is not stored. */
export function waitLink(execution: Pick<ExecutionSummary, 'execution_id' | 'workflow_id'>, nodeId: string): string | null {
  const link = executionLink(execution)
  return link && `${link}&node=${encodeURIComponent(nodeId)}`
}

/** What the wait waits for, in a few words. */
export function waitsFor(wait: Pick<Wait, 'mode' | 'title' | 'due_at'> & Partial<Pick<Wait, 'executions'>>, now = Date.now()): string {
  if (wait.mode === 'execution') return childrenText(wait.executions?.length ?? 1)
  if (wait.mode === 'timer') return wait.due_at ? `a timer, ${dueText(wait.due_at, now)}` : 'a timer'
  if (wait.mode === 'webhook') return 'a call of its link (webhook)'
  return wait.title ? `an approval: ${wait.title}` : 'an approval'
}

/** A node waiting for child executions (a sub-workflow's, core.map's items') that wait. */
export function childrenText(count: number): string {
  return count === 1 ? 'a sub-workflow execution to end' : `${count} sub-workflow executions to end`
}

/** When a time comes, said from now: "in 5 min", "in 3 h", "in 2 days", or "now" once it
 * has passed (a timer due fires within seconds). */
export function dueText(iso: string, now = Date.now()): string {
  const seconds = (Date.parse(iso) - now) / 1000
  if (seconds <= 0) return 'due now'
  if (seconds < 60) return `in ${Math.ceil(seconds)} s`
  if (seconds < 3600) return `in ${Math.round(seconds / 60)} min`
  if (seconds < 2 * 86400) return `in ${Math.round(seconds / 3600)} h`
  return `in ${Math.round(seconds / 86400)} days`
}

const ROLE_NAMES: Record<Role, string> = { owner: 'the owner', admin: 'admins', editor: 'editors', viewer: 'viewers' }

/** Who may decide the wait, as the API says it (docs/reference/waits.md: who may decide). */
export function whoMayDecide(wait: Pick<Wait, 'mode' | 'approvers' | 'approver_roles' | 'anyone_with_link'>): string {
  if (wait.mode === 'execution') return 'nobody: it goes on once they end (decide their waits)'
  if (wait.mode !== 'approval') return 'anyone holding its link; members with the editor role or above'
  const who = [...wait.approvers, ...wait.approver_roles.map((role) => (role === 'owner' ? ROLE_NAMES[role] : `${ROLE_NAMES[role]} and above`))]
  if (!who.length) return wait.anyone_with_link ? 'anyone holding its link; members with the editor role or above' : 'members with the editor role or above'
  if (wait.anyone_with_link) who.push('anyone holding its link')
  return who.join('; ')
}

/** "1 of 2 approvals" for an approval that needs several; "" otherwise. */
export function approvalCount(wait: Pick<Wait, 'mode' | 'approvals' | 'approvals_needed'>): string {
  if (wait.mode !== 'approval' || wait.approvals_needed <= 1) return ''
  const given = wait.approvals.filter((decision) => decision.decision === 'approve').length
  return `${given} of ${wait.approvals_needed} approvals`
}

/** What the person is told when a decision is refused: a message, and the form's problems
 * by field (422 `form_invalid`). `gone` says that the wait can no longer be decided (so
 * the form is of no more use): someone else decided it, it timed out, or its execution
 * ended. */
export interface DecisionFailure {
  message: string
  fields: Record<string, string>
  gone: boolean
}

export function decisionFailure(error: unknown, fields: readonly FormField[] = []): DecisionFailure {
  if (!(error instanceof ApiError)) return { message: `Not sent: ${(error as Error).message ?? String(error)}`, fields: {}, gone: false }
  if (error.status === 422 && error.code === 'form_invalid' && Array.isArray(error.details)) {
    const byField = problemsByField(error.details as FieldProblem[], fields)
    const count = (error.details as FieldProblem[]).length
    return { message: `The answer does not fit the form: ${count === 1 ? 'a field needs' : `${count} fields need`} another value (marked below).`, fields: byField, gone: false }
  }
  if (error.status === 409) {
    const yours = /approved this already/.test(error.message)
    return {
      message: yours ? `You have approved this already: ${error.message.split(';')[1]?.trim() || 'it needs another person’s approval'}.` : `Already decided by someone else, or no longer open: ${error.message}.`,
      fields: {},
      gone: true,
    }
  }
  if (error.status === 410) return { message: `This wait is over: ${error.message}.`, fields: {}, gone: true }
  if (error.status === 404) return { message: `Not found: ${error.message}. The execution may have been deleted.`, fields: {}, gone: true }
  if (error.status === 403) return { message: `You may not decide this: ${error.message}.`, fields: {}, gone: false }
  return { message: `Not sent: ${error.message}`, fields: {}, gone: false }
}
