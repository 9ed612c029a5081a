// Waiting for you: every open wait of a waiting execution that the signed-in member may
// decide now, newest first, each with what it waits for and the way to decide it in place
// (or open it on its workflow's canvas); below, folded, what waits for others.
import { useEffect, useState } from 'react'
import { api } from '../api/client'
import type { User } from '../api/types'
import { childrenText, isMine, waitLink, type WaitEntry } from '../lib/waits'
import { AppHeader } from '../ui/AppHeader'
import { navigate } from '../ui/router'
import { relativeTime } from '../ui/time'
import { INBOX_LIMIT, useInbox, useInboxEntries } from '../waits/inbox'
import { DecideWait, WaitDetails } from '../waits/WaitCard'

interface Props {
  user: User
  onSignOut: () => void
}

export function InboxPage({ user, onSignOut }: Props) {
  const entries = useInboxEntries(user)
  const error = useInbox((state) => state.error)
  const total = useInbox((state) => state.total)
  const waitingTotal = useInbox((state) => state.waitingTotal)
  const read = useInbox((state) => state.items?.length ?? 0)
  const [outcome, setOutcome] = useState<string | null>(null)
  useEffect(() => {
    reload()
  }, [])
  // Said above the list, as the wait decided (or the execution cancelled) leaves it.
  const decided = (text: string) => {
    setOutcome(text)
    reload()
  }

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows inbox-page">
        <div className="toolbar">
          <h1>Waiting for you</h1>
          <div className="spacer" />
          {entries && (
            <span className="muted small" data-testid="inbox-total">
              {entries.mine.length} to decide · {waitingTotal} waiting execution{waitingTotal === 1 ? '' : 's'} in all
            </span>
          )}
        </div>
        {error && (
          <div className="banner error" role="alert">
            The waiting executions could not be read: {error}
          </div>
        )}
        {outcome && (
          <div className="banner info" role="status" data-testid="inbox-outcome">
            {outcome}
          </div>
        )}
        {!entries && !error && <p className="muted">Loading…</p>}
        {total > read && (
          <p className="muted small">
            Showing the newest {INBOX_LIMIT} of the {total} executions waiting for you: <a href="/executions?status=waiting">see every waiting one</a>.
          </p>
        )}
        {entries && entries.mine.length === 0 && <div className="empty">Nothing waits for you: approvals you may decide appear here when a workflow reaches them.</div>}
        {entries && entries.mine.length > 0 && (
          <ul className="inbox-list" aria-label="Waiting for you">
            {entries.mine.map((entry) => (
              <InboxItem key={`${entry.execution.execution_id}:${entry.wait.node_id}`} entry={entry} user={user} onDecided={decided} />
            ))}
          </ul>
        )}
        {entries && entries.others.length > 0 && (
          <details className="inbox-others">
            <summary>
              Waiting for others ({entries.others.length})
            </summary>
            <ul className="inbox-list" aria-label="Waiting for others">
              {entries.others.map((entry) => (
                <InboxItem key={`${entry.execution.execution_id}:${entry.wait.node_id}`} entry={entry} user={user} onDecided={decided} />
              ))}
            </ul>
          </details>
        )}
      </main>
    </div>
  )
}

function reload() {
  const { load, loadOthers } = useInbox.getState()
  load()
  loadOthers()
}

/** Cancel the waiting execution (its waits' links answer 410 from then on), asked twice. */
function CancelExecution({ executionId, onCancelled }: { executionId: string; onCancelled: () => void }) {
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (!asking) {
    return (
      <button className="small" onClick={() => setAsking(true)} title="Cancel this execution: its waiting nodes end cancelled and its links stop working">
        Cancel execution…
      </button>
    )
  }
  const cancel = async () => {
    setBusy(true)
    try {
      await api.cancel(executionId)
      onCancelled()
    } catch (failure) {
      setError((failure as Error).message)
      setBusy(false)
    }
  }
  return (
    <span className="confirm-cancel">
      {error && (
        <span className="error small" role="alert">
          Not cancelled: {error}{' '}
        </span>
      )}
      <button className="small danger" onClick={cancel} disabled={busy} data-testid="confirm-cancel">
        {busy ? 'Cancelling…' : 'Cancel it'}
      </button>
      <button className="small" onClick={() => setAsking(false)} disabled={busy}>
        Keep it
      </button>
    </span>
  )
}

function InboxItem({ entry, user, onDecided }: { entry: WaitEntry; user: User; onDecided: (outcome: string) => void }) {
  const { execution, wait } = entry
  const [open, setOpen] = useState(false)
  const link = waitLink(execution, wait.node_id)
  const label =
    wait.mode === 'approval'
      ? wait.title || `Approval (${wait.node_id})`
      : wait.mode === 'timer'
        ? `Timer (${wait.node_id})`
        : wait.mode === 'execution'
          ? `Waits for ${childrenText(wait.executions?.length ?? 1)} (${wait.node_id})`
          : `Webhook call (${wait.node_id})`
  return (
    <li className="inbox-item" data-testid="inbox-item" data-execution={execution.execution_id} data-node={wait.node_id}>
      <div className="inbox-head">
        <span className="pill status-waiting">{wait.mode}</span>
        <strong className="inbox-title">{label}</strong>
        <span className="muted small">
          {execution.workflow} · started {relativeTime(execution.started_at)}
          {execution.started_by && ` by ${execution.started_by.email}`} · <code>{execution.execution_id.slice(0, 8)}</code>
        </span>
        <div className="spacer" />
        {link && (
          <a
            className="button small"
            href={link}
            onClick={(event) => {
              event.preventDefault()
              navigate(link)
            }}
            title="Open the workflow showing this execution, at the waiting node"
          >
            Open in the editor
          </a>
        )}
        {isMine(wait, user) && (
          <button className={`small${open ? '' : ' primary'}`} aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Close' : 'Decide…'}
          </button>
        )}
        <CancelExecution executionId={execution.execution_id} onCancelled={() => onDecided(`${execution.workflow}: cancelled; its links work no more`)} />
      </div>
      <WaitDetails wait={wait} titled />
      {open && <DecideWait executionId={execution.execution_id} wait={wait} user={user} onChange={(outcome) => (outcome ? onDecided(`${label}: ${outcome}`) : useInbox.getState().load())} />}
    </li>
  )
}
