// The bar over the canvas that sums up the execution shown: live, or opened from the
// history.
import { formatUsage } from '../lib/usage'
import { relativeTime } from '../ui/time'
import { formatDuration } from './format'
import { useEditor } from './store'

export function RunBar() {
  const run = useEditor((state) => state.run)
  const version = useEditor((state) => state.version)
  const counts: Record<string, number> = {}
  for (const node of Object.values(run.nodes)) counts[node.status] = (counts[node.status] ?? 0) + 1
  const execution = run.execution
  const otherVersion = execution?.workflow_version && execution.workflow_version !== version ? execution.workflow_version : null
  return (
    <div className={`runbar status-${run.status}`} data-testid="runbar" data-status={run.status ?? ''} data-execution={run.executionId ?? ''}>
      <strong>{run.status === 'running' || run.status === 'queued' ? 'Running…' : `Execution ${run.status}`}</strong>
      {run.durationMs !== null && <span>{formatDuration(run.durationMs)}</span>}
      {Object.entries(counts).map(([status, count]) => (
        <span key={status} className={`pill status-${status}`}>
          {count} {status}
        </span>
      ))}
      {execution?.usage?.total_tokens !== undefined && <span className="muted" title="Tokens used by every node">{formatUsage(execution.usage)} tokens</span>}
      {execution?.error && <span className="error-text">{execution.error.message}</span>}
      <div className="spacer" />
      {otherVersion && (
        <span className="pill warn" title="The canvas shows the current version; the execution ran an older one">
          ran v{otherVersion}
        </span>
      )}
      {execution && !run.live && <span className="muted small" title={execution.started_at}>started {relativeTime(execution.started_at)}</span>}
      <code className="muted small">{run.executionId}</code>
      <button className="icon" onClick={() => useEditor.getState().clearRun()} title="Clear the run from the canvas" aria-label="Clear the run">
        ×
      </button>
    </div>
  )
}
