// Every workflow's executions, newest first, filtered by workflow, status, mode and time,
// and kept up to date while the page is open: the list is read again every few seconds
// (sooner while an execution on it is still going), and not while the tab is hidden. One
// list request per turn rather than an event stream per execution: the list is one query,
// and the executions that start meanwhile are what it must show.
import { useCallback, useEffect, useRef, useState, type MouseEvent } from 'react'
import { api } from '../api/client'
import type { ExecutionMode, ExecutionStatus, ExecutionSummary, User, WorkflowSummary } from '../api/types'
import { formatDuration } from '../editor/format'
import {
  executionLink,
  executionQuery,
  filtersFrom,
  filtersSearch,
  MODE_LABELS,
  notKept,
  pollDelay,
  SPANS,
  STATUS_LABELS,
  type Filters,
  type Span,
} from '../lib/executions'
import { waitsFor } from '../lib/waits'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { ListTable } from '../ui/ListTable'
import { usePollWhileShown } from '../ui/polling'
import { navigate } from '../ui/router'
import { relativeTime } from '../ui/time'

const PAGE = 50
const MAX_PAGE = 500

/** Sooner while an execution on the list is still going. */
const delayAfter = (found: ExecutionSummary[] | null) => pollDelay(found ?? [])

interface Props {
  user: User
  onSignOut: () => void
}

export function ExecutionsPage({ user, onSignOut }: Props) {
  const [filters, setFilters] = useState<Filters>(() => filtersFrom(location.search))
  const [items, setItems] = useState<ExecutionSummary[] | null>(null)
  const [total, setTotal] = useState(0)
  const [left, setLeft] = useState<{ text: string | null; last: string | null }>({ text: null, last: null })
  const [error, setError] = useState<string | null>(null)
  const [workflows, setWorkflows] = useState<WorkflowSummary[]>([])
  const shown = useRef(PAGE)

  useEffect(() => {
    api.workflows('').then((page) => setWorkflows(page.items), (failure: Error) => setError(`The workflows could not be read: ${failure.message}`))
  }, [])

  // Reads as many as are shown (at least a page), so that a refresh keeps what was loaded.
  const load = useCallback(async (): Promise<ExecutionSummary[] | null> => {
    try {
      const page = await api.findExecutions(executionQuery(filters, Date.now(), Math.min(shown.current, MAX_PAGE)))
      setItems(page.items)
      setTotal(page.total)
      setLeft({ text: notKept(page, filters), last: page.last_success_not_kept_at ?? null })
      setError(null)
      return page.items
    } catch (failure) {
      setError((failure as Error).message)
      return null
    }
  }, [filters])

  usePollWhileShown(load, delayAfter)

  const change = (patch: Partial<Filters>) => {
    const next = { ...filters, ...patch }
    shown.current = PAGE
    setItems(null)
    setFilters(next)
    history.replaceState(null, '', `${location.pathname}${filtersSearch(next)}`)
  }
  const more = () => {
    shown.current = Math.min((items?.length ?? 0) + PAGE, MAX_PAGE)
    load()
  }

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows executions-page">
        <div className="toolbar">
          <h1>Executions</h1>
          <select aria-label="Workflow" value={filters.workflow} onChange={(event) => change({ workflow: event.target.value })}>
            <option value="">All workflows</option>
            {workflows.map((workflow) => (
              <option key={workflow.id} value={workflow.id}>
                {workflow.name}
              </option>
            ))}
          </select>
          <select aria-label="Status" value={filters.status} onChange={(event) => change({ status: event.target.value as ExecutionStatus | '' })}>
            <option value="">Any status</option>
            {Object.entries(STATUS_LABELS).map(([status, label]) => (
              <option key={status} value={status}>
                {label}
              </option>
            ))}
          </select>
          <select aria-label="Started by" value={filters.mode} onChange={(event) => change({ mode: event.target.value as ExecutionMode | '' })}>
            <option value="">Started by anything</option>
            {Object.entries(MODE_LABELS).map(([mode, label]) => (
              <option key={mode} value={mode}>
                {label}
              </option>
            ))}
          </select>
          <select aria-label="Started" value={filters.span} onChange={(event) => change({ span: event.target.value as Span | '' })}>
            <option value="">Any time</option>
            {Object.entries(SPANS).map(([span, { label }]) => (
              <option key={span} value={span}>
                {label}
              </option>
            ))}
          </select>
          <div className="spacer" />
          {items && <span className="muted small" data-testid="executions-total">{total} in all</span>}
          {items && left.text && (
            <span className="muted small" data-testid="executions-not-kept" title="Their workflows keep only a count of successful runs (keep_successes: count)">
              {left.text}
              {left.last && `, the last ${relativeTime(left.last)}`}
            </span>
          )}
        </div>
        <ErrorBanner error={error} />
        {!items && !error && <p className="muted">Loading…</p>}
        <ListTable
          items={items}
          label="Executions"
          columns={['Status', 'Workflow', 'Started by', 'Started', 'Duration', 'Execution']}
          empty="No executions match: run a workflow, or change the filters."
          row={(item) => <ExecutionRow key={item.execution_id} item={item} />}
        />
        {items && items.length < total && items.length < MAX_PAGE && (
          <button className="load-more" onClick={more}>
            Show older ({total - items.length} more)
          </button>
        )}
      </main>
    </div>
  )
}

function ExecutionRow({ item }: { item: ExecutionSummary }) {
  const link = executionLink(item)
  const open = (event: MouseEvent) => {
    event.preventDefault()
    if (link) navigate(link)
  }
  return (
    <tr data-testid="execution-row" data-status={item.status} data-mode={item.mode}>
      <td>
        <span className={`pill status-${item.status}`} data-testid="execution-status">
          <span className={`dot status-${item.status}`} /> {STATUS_LABELS[item.status]}
        </span>
        {item.waits && item.waits.length > 0 && (
          <div className="muted small" data-testid="execution-waits">
            for {item.waits.map((wait) => waitsFor(wait)).join('; ')}
          </div>
        )}
        {item.error && (
          <div className="muted small error-line" title={item.error.message}>
            {item.error.message}
          </div>
        )}
      </td>
      <td>
        {link ? (
          <a className="workflow-name" href={link} onClick={open} title="Open the workflow showing this execution">
            {item.workflow}
          </a>
        ) : (
          <span title="The workflow is not stored (deleted, or a file run by tav run)">{item.workflow}</span>
        )}
        {item.workflow_version !== null && <span className="muted small"> v{item.workflow_version}</span>}
      </td>
      <td>
        <span className="pill">{MODE_LABELS[item.mode]}</span>
        {item.started_by && <span className="muted small" data-testid="started-by"> {item.started_by.email}</span>}
      </td>
      <td className="muted" title={item.started_at}>
        {relativeTime(item.started_at)}
      </td>
      <td className="muted">{formatDuration(item.duration_ms) || (item.finished_at ? '' : '…')}</td>
      <td>
        <code className="muted small">{item.execution_id.slice(0, 8)}</code>
        {item.worker && (
          <div className="muted small worker-name" data-testid="execution-worker" title="The worker that ran it">
            on {item.worker}
          </div>
        )}
      </td>
    </tr>
  )
}
