// The workflow's history: its executions (open one to see it on the canvas) and its saved
// versions (restore one as a new version). Executions still queued or running are read
// again every few seconds, so that one waiting for a worker (queue mode) shows when it
// starts and ends, with the worker that ran it; one that waits (core.wait), every little
// while, to show when it is decided.
import { useCallback, useEffect, useState } from 'react'
import { api } from '../api/client'
import type { ExecutionSummary, VersionSummary } from '../api/types'
import { MODE_LABELS, pollDelay, STATUS_LABELS } from '../lib/executions'
import { waitsFor } from '../lib/waits'
import { relativeTime } from '../ui/time'
import { formatDuration } from './format'
import { useEditor } from './store'

type Tab = 'executions' | 'versions'
const PAGE = 50

interface Props {
  workflowId: string
  onOpenExecution: (id: string) => void
  onRestore: (version: number) => void
  onClose: () => void
}

export function HistoryPanel({ workflowId, onOpenExecution, onRestore, onClose }: Props) {
  const [tab, setTab] = useState<Tab>('executions')
  return (
    <aside className="panel history" aria-label="History">
      <header className="panel-head">
        <h2 className="panel-titles">History</h2>
        <button className="icon" onClick={onClose} title="Close (H)" aria-label="Close history">
          ×
        </button>
      </header>
      <nav className="panel-tabs" role="tablist">
        {(['executions', 'versions'] as const).map((name) => (
          <button key={name} role="tab" aria-selected={tab === name} className={tab === name ? 'active' : ''} onClick={() => setTab(name)}>
            {name === 'executions' ? 'Executions' : 'Versions'}
          </button>
        ))}
      </nav>
      <div className="panel-body flush">
        {tab === 'executions' ? <Executions workflowId={workflowId} onOpen={onOpenExecution} /> : <Versions workflowId={workflowId} onRestore={onRestore} />}
      </div>
    </aside>
  )
}

function Executions({ workflowId, onOpen }: { workflowId: string; onOpen: (id: string) => void }) {
  const [items, setItems] = useState<ExecutionSummary[] | null>(null)
  const [total, setTotal] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const shown = useEditor((state) => state.run.executionId)
  const runStatus = useEditor((state) => state.run.status)
  const version = useEditor((state) => state.version)

  // Never rejects: a failure is shown in place of the list.
  const load = useCallback(
    (offset = 0) =>
      api.executions(workflowId, PAGE, offset).then(
        (page) => {
          setItems((known) => (offset ? [...(known ?? []), ...page.items] : page.items))
          setTotal(page.total)
        },
        (failure: Error) => setError(failure.message),
      ),
    [workflowId],
  )
  useEffect(() => {
    load()
  }, [load, shown, runStatus])
  // Only the first page is read again (one further back stays as it was loaded).
  useEffect(() => {
    if (!items || items.length > PAGE || !items.some((item) => item.status === 'queued' || item.status === 'running' || item.status === 'waiting')) return
    const timer = setTimeout(() => load(), pollDelay(items))
    return () => clearTimeout(timer)
  }, [items, load])

  if (error) return <div className="banner error">{error}</div>
  if (!items) return <p className="muted small pad">Loading…</p>
  if (!items.length) return <p className="muted small pad">No executions yet: run the workflow and it appears here.</p>
  return (
    <>
      <ul className="history-list" aria-label="Executions">
        {items.map((item) => (
          <li key={item.execution_id}>
            <button className={`history-item${item.execution_id === shown ? ' active' : ''}`} data-testid="execution-row" data-status={item.status} onClick={() => onOpen(item.execution_id)}>
              <span className={`dot status-${item.status}`} />
              <span className="history-main">
                <span>
                  <span className={`pill status-${item.status}`} data-testid="execution-status">
                    {STATUS_LABELS[item.status]}
                  </span>{' '}
                  <span className="muted">{relativeTime(item.started_at)}</span>
                </span>
                <span className="muted small">
                  {formatDuration(item.duration_ms) || '…'} · <span data-testid="execution-mode">{MODE_LABELS[item.mode]}</span>
                  {item.workflow_version !== null && item.workflow_version !== version && ` · v${item.workflow_version}`}
                </span>
                {item.waits && item.waits.length > 0 && (
                  <span className="muted small" data-testid="execution-waits">
                    for {item.waits.map((wait) => waitsFor(wait)).join('; ')}
                  </span>
                )}
                {item.worker && (
                  <span className="muted small worker-name" data-testid="execution-worker" title="The worker that ran it">
                    on {item.worker}
                  </span>
                )}
              </span>
              <code className="muted small">{item.execution_id.slice(0, 8)}</code>
            </button>
          </li>
        ))}
      </ul>
      {items.length < total && (
        <button className="small load-more" onClick={() => load(items.length)}>
          Show older ({total - items.length} more)
        </button>
      )}
    </>
  )
}

function Versions({ workflowId, onRestore }: { workflowId: string; onRestore: (version: number) => void }) {
  const [items, setItems] = useState<VersionSummary[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const current = useEditor((state) => state.version)
  useEffect(() => {
    api.versions(workflowId).then(setItems, (failure: Error) => setError(failure.message))
  }, [workflowId, current])

  if (error) return <div className="banner error">{error}</div>
  if (!items) return <p className="muted small pad">Loading…</p>
  return (
    <ul className="history-list" aria-label="Versions">
      {items.map((item) => (
        <li key={item.version} className="history-item static" data-testid="version-row">
          <span className="history-main">
            <span>
              <strong>v{item.version}</strong> {item.version === current && <span className="pill ok">current</span>}
            </span>
            <span className="muted small" title={item.created_at}>
              {item.name} · {relativeTime(item.created_at)}
              {item.created_by && ` · ${item.created_by.email}`}
            </span>
          </span>
          <a className="button small" href={api.exportUrl(workflowId, 'json', item.version)} download title="Download this version as JSON">
            JSON
          </a>
          {item.version !== current && (
            <button className="small" onClick={() => onRestore(item.version)} title="Save this version again, as the newest">
              Restore
            </button>
          )}
        </li>
      ))}
    </ul>
  )
}
