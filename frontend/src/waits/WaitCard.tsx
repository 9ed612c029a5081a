// One wait as a person sees it: what it waits for, who may decide it, how far it is, and —
// when it is theirs to decide — the way to decide it: an approval's form, or ending a timer
// or resuming a webhook wait now. Used by the inbox and by the node panel of the run view.
import { useState } from 'react'
import { api } from '../api/client'
import type { User, Wait, WaitDecided } from '../api/types'
import { formFields } from '../lib/approvalForm'
import { approvalCount, approvedBy, decisionFailure, dueText, waitsFor, whoMayDecide } from '../lib/waits'
import { relativeTime } from '../ui/time'
import { ApprovalForm } from './ApprovalForm'

/** What the wait waits for and how far it is (its title too, unless `titled` elsewhere). */
export function WaitDetails({ wait, titled = false }: { wait: Wait; titled?: boolean }) {
  const fields = formFields(wait.fields)
  const count = approvalCount(wait)
  return (
    <div className="wait-details" data-testid="wait-details" data-mode={wait.mode} data-node={wait.node_id}>
      {!titled && wait.mode === 'approval' && wait.title && <div className="wait-title">{wait.title}</div>}
      {wait.tool_call ? <ToolCallAsked call={wait.tool_call} /> : wait.description && <p className="wait-description">{wait.description}</p>}
      <dl className="wait-facts">
        <dt>Waits for</dt>
        <dd>{wait.mode === 'approval' ? (count ? `approval by ${wait.approvals_needed} people` : 'an approval') : waitsFor(wait)}</dd>
        {count && (
          <>
            <dt>Approvals</dt>
            <dd data-testid="wait-approvals">{count}</dd>
          </>
        )}
        {wait.status === 'open' && wait.due_at && (
          <>
            <dt>{wait.mode === 'timer' ? 'Fires' : 'Times out'}</dt>
            <dd title={wait.due_at}>
              {new Date(wait.due_at).toLocaleString()} ({dueText(wait.due_at)})
            </dd>
          </>
        )}
        {wait.mode === 'approval' && wait.status === 'open' && !wait.due_at && (
          <>
            <dt>Times out</dt>
            <dd>never</dd>
          </>
        )}
        {wait.mode === 'execution' && (wait.executions ?? []).length > 0 && (
          <>
            <dt>Executions</dt>
            <dd data-testid="wait-children" title="Where people act: the waits of these executions">
              {(wait.executions ?? []).map((id) => (
                <code key={id}>{id.slice(0, 8)} </code>
              ))}
            </dd>
          </>
        )}
        <dt>Who may decide</dt>
        <dd data-testid="wait-who">{whoMayDecide(wait)}</dd>
        {fields.length > 0 && (
          <>
            <dt>Form</dt>
            <dd>{fields.map((field) => `${field.title}${field.required ? ' *' : ''}`).join(', ')}</dd>
          </>
        )}
        <dt>{wait.status === 'open' ? 'Waiting since' : 'Waited from'}</dt>
        <dd title={wait.created_at}>{relativeTime(wait.created_at)}</dd>
        {wait.decided_at && (
          <>
            <dt>{wait.status === 'cancelled' ? 'Cancelled' : 'Decided'}</dt>
            <dd title={wait.decided_at}>{relativeTime(wait.decided_at)}</dd>
          </>
        )}
      </dl>
      {wait.approvals.length > 0 && (
        <ul className="wait-decisions" aria-label="Decisions so far">
          {wait.approvals.map((decision, index) => (
            <li key={index}>
              <span className={`pill ${decision.decision === 'approve' ? 'status-succeeded' : 'status-failed'}`}>{decision.decision === 'approve' ? 'approved' : 'rejected'}</span> {decision.by?.email ?? 'someone with the link'}{' '}
              <span className="muted small" title={decision.at}>
                {relativeTime(decision.at)}
              </span>
              {decision.comment && <div className="muted small">“{decision.comment}”</div>}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** An agent's tool call waiting for approval: the tool, what it does, the model's arguments
 * (the form below holds them, to edit before approving). */
function ToolCallAsked({ call }: { call: NonNullable<Wait['tool_call']> }) {
  return (
    <div className="wait-tool-call" data-testid="wait-tool-call">
      <div>
        An agent asks to call the tool <code>{call.tool}</code>
      </div>
      {call.description && <p className="wait-description muted small">{call.description}</p>}
      <div className="muted small">With the arguments:</div>
      <pre className="wait-tool-arguments" data-testid="wait-tool-arguments">
        {JSON.stringify(call.arguments, null, 2)}
      </pre>
    </div>
  )
}

interface DecideProps {
  executionId: string
  wait: Wait
  user: Pick<User, 'id'>
  /** After a decision was taken (`outcome` says what it did), or when the wait was found
   * decided meanwhile: read it again. */
  onChange: (outcome?: string) => void
}

/** The way for `user` to decide the wait, or why there is none. */
export function DecideWait({ executionId, wait, user, onChange }: DecideProps) {
  // What became of the decision sent from here, kept while the wait is read again.
  const [notice, setNotice] = useState<{ text: string; failed: boolean } | null>(null)
  const ended = (text: string, failed: boolean) => {
    setNotice({ text, failed })
    onChange(text)
  }
  const decided = (answer: WaitDecided, decision: 'approve' | 'reject' | 'now') => ended(outcomeText(answer, decision, wait.tool_call?.tool), false)
  if (notice) {
    return (
      <div className={`banner ${notice.failed ? 'error' : 'info'}`} role={notice.failed ? 'alert' : 'status'} data-testid={notice.failed ? 'decision-error' : 'decision-done'}>
        {notice.text}
      </div>
    )
  }
  if (wait.status !== 'open') return <p className="muted small">{wait.status === 'cancelled' ? 'Cancelled with its execution.' : `Decided${wait.port ? `: it went on down “${wait.port}”` : ''}.`}</p>
  if (!wait.may_decide) return <p className="muted small" data-testid="not-yours">Not yours to decide: {whoMayDecide(wait)}.</p>
  if (approvedBy(wait, user)) return <p className="muted small">You have approved it; it waits for {approvalCount(wait) || 'another approval'}.</p>
  if (wait.mode === 'approval') return <ApprovalForm key={wait.node_id} executionId={executionId} wait={wait} onDecided={decided} onGone={(message) => ended(message, true)} />
  return <GoOnNow executionId={executionId} wait={wait} onDecided={(answer) => decided(answer, 'now')} onGone={(message) => ended(message, true)} />
}

/** A timer ended now, or a webhook wait resumed without a call (its output's body empty). */
function GoOnNow({ executionId, wait, onDecided, onGone }: { executionId: string; wait: Wait; onDecided: (answer: WaitDecided) => void; onGone: (message: string) => void }) {
  const [sending, setSending] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const go = async () => {
    setSending(true)
    setError(null)
    try {
      onDecided(await api.decide(executionId, wait.node_id, {}))
    } catch (failure) {
      const refused = decisionFailure(failure)
      if (refused.gone) onGone(refused.message)
      else setError(refused.message)
    } finally {
      setSending(false)
    }
  }
  const timer = wait.mode === 'timer'
  return (
    <div className="approval-actions">
      <button className="primary" onClick={go} disabled={sending} title={timer ? 'Go on now, as if the timer had fired' : 'Go on now, as if its link had been called with an empty body'}>
        {timer ? 'Fire now' : 'Resume now'}
      </button>
      {error && (
        <div className="banner error" role="alert" data-testid="decision-error">
          {error}
        </div>
      )}
    </div>
  )
}

/** What became of a decision; `tool`: the agent's tool call it was about. */
function outcomeText(answer: WaitDecided, decision: 'approve' | 'reject' | 'now', tool?: string): string {
  if (!answer.decided) return 'Your approval is noted: it needs another person’s approval before it goes on.'
  if (tool && decision === 'reject') return `Rejected: ${tool} does not run, and the agent is told so.`
  if (tool && decision === 'approve') return `Approved: the agent runs ${tool} and goes on.`
  if (decision === 'reject') return `Rejected: the workflow goes on down “${answer.port}”.`
  if (decision === 'approve') return `Approved: the workflow goes on down “${answer.port}”.`
  return 'Done: the workflow goes on.'
}
