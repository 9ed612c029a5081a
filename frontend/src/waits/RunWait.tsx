// The wait of a node in the run view: a line on its card, the waits in the run bar, and
// the whole of it — with the way to decide it — in the node's panel.
import { useEditor } from '../editor/store'
import { approvalCount, dueText, isMine } from '../lib/waits'
import { useRunWaits } from './runWaits'
import { DecideWait, WaitDetails } from './WaitCard'

/** On a waiting node's card: what it waits for, and whether it is yours to decide. */
export function WaitBadge({ nodeId }: { nodeId: string }) {
  const wait = useRunWaits((state) => state.byNode[nodeId])
  const mine = useRunWaits((state) => Boolean(state.user && wait && isMine(wait, state.user)))
  if (!wait || wait.status !== 'open') return null
  const text =
    wait.mode === 'timer' ? (wait.due_at ? `timer · fires ${dueText(wait.due_at)}` : 'timer') : wait.mode === 'webhook' ? 'waits for a call of its link' : ['approval', approvalCount(wait)].filter(Boolean).join(' · ')
  return (
    <div className="tav-node-wait" data-testid={`wait-${nodeId}`} title={wait.title || text}>
      {text}
      {mine && <span className="tag yours">yours to decide</span>}
    </div>
  )
}

/** In the run bar of a waiting execution: each open wait, a click away from its panel. */
export function RunBarWaits() {
  const waits = useRunWaits((state) => state.byNode)
  const user = useRunWaits((state) => state.user)
  const open = Object.values(waits).filter((wait) => wait.status === 'open')
  if (!open.length) return null
  return (
    <span className="runbar-waits" data-testid="runbar-waits">
      Waits for:
      {open.map((wait) => (
        <button key={wait.node_id} className="link" onClick={() => useEditor.getState().select(wait.node_id)} title="Show what it waits for">
          {wait.mode === 'approval' ? `approval “${wait.title || wait.node_id}”` : wait.mode === 'timer' ? `timer (${wait.node_id})` : `a call (${wait.node_id})`}
          {user && isMine(wait, user) && ' · yours'}
        </button>
      ))}
    </span>
  )
}

/** In a node's panel: its wait in the execution shown, and the way to decide it. */
export function RunWaitSection({ nodeId }: { nodeId: string }) {
  const wait = useRunWaits((state) => state.byNode[nodeId])
  const executionId = useRunWaits((state) => state.executionId)
  const user = useRunWaits((state) => state.user)
  const error = useRunWaits((state) => state.error)
  const waiting = useEditor((state) => state.run.nodes[nodeId]?.status === 'waiting')
  if (!wait) return error && waiting ? <div className="banner error">{error}</div> : null
  if (!executionId || !user) return null
  return (
    <section className={`run-wait${wait.status === 'open' ? ' open' : ''}`} aria-label="Wait" data-testid="run-wait">
      <h4>{wait.status === 'open' ? 'Waiting' : wait.status === 'decided' ? 'Waited' : 'Wait cancelled'}</h4>
      <WaitDetails wait={wait} />
      <DecideWait key={`${executionId}:${nodeId}`} executionId={executionId} wait={wait} user={user} onChange={() => useRunWaits.getState().reload()} />
    </section>
  )
}
