// The bar over the canvas that sums up the execution shown: live, or opened from the
// history. A finished run shows the workflow's output there; a failed one its error, one
// click from the node that failed.
import { useState } from 'react'
import { formatUsage } from '../lib/usage'
import { relativeTime } from '../ui/time'
import { RunBarWaits } from '../waits/RunWait'
import { formatDuration } from './format'
import { JsonTree } from './JsonTree'
import { failedNode, statusCounts } from './run'
import { useEditor } from './store'

const PREVIEW = 120

export function RunBar() {
  const run = useEditor((state) => state.run)
  const version = useEditor((state) => state.version)
  const failed = useEditor((state) => failedNode(state.run, (id) => state.nodes.find((node) => node.id === id)?.data.def.on_error))
  const [open, setOpen] = useState(false)
  const execution = run.execution
  const otherVersion = execution?.workflow_version && execution.workflow_version !== version ? execution.workflow_version : null
  const output = run.status === 'succeeded' ? execution?.output : undefined
  const hasOutput = output !== null && output !== undefined
  // Selected, the node opens its panel (on its error) and is brought into view.
  const showNode = (id: string) => useEditor.getState().select(id)
  return (
    <>
      <div className={`runbar status-${run.status}`} data-testid="runbar" data-status={run.status ?? ''} data-execution={run.executionId ?? ''}>
        <strong>{run.status === 'running' || run.status === 'queued' ? 'Running…' : `Execution ${run.status}`}</strong>
        {run.status === 'waiting' && <RunBarWaits />}
        {run.durationMs !== null && <span>{formatDuration(run.durationMs)}</span>}
        {statusCounts(run.nodes).map(({ label, status, count }) => (
          <span key={label} className={`pill status-${status}`}>
            {count} {label}
          </span>
        ))}
        {execution?.usage?.total_tokens !== undefined && <span className="muted" title="Tokens used by every node">{formatUsage(execution.usage)} tokens</span>}
        {hasOutput && (
          <button className="link runbar-output" data-testid="runbar-output" aria-expanded={open} onClick={() => setOpen(!open)} title="The workflow's output: what its Output node received">
            Output: <code>{preview(output)}</code>
          </button>
        )}
        {execution?.error &&
          (failed ? (
            <button className="link error-text" data-testid="runbar-error" onClick={() => showNode(failed)} title={`Show node “${failed}”, which failed`}>
              {execution.error.message}
            </button>
          ) : (
            <span className="error-text" data-testid="runbar-error">
              {execution.error.message}
            </span>
          ))}
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
      {hasOutput && open && (
        <div className="runbar-detail json-tree" data-testid="runbar-output-value">
          <JsonTree value={output} />
        </div>
      )}
    </>
  )
}

/** A value on one line: text as it is, anything else as JSON, cut short. */
function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW - 1)}…` : text
}
