// The words and filters of the executions list: what each mode and status is called, the
// time spans it filters by, how often it asks again, and the link that opens an execution
// in the editor.
import type { ExecutionMode, ExecutionPage, ExecutionQuery, ExecutionStatus, ExecutionSummary } from '../api/types'

/** Every mode, by the name people know it by (a mode the server adds fails the type check
 * here until it has one). */
export const MODE_LABELS: Record<ExecutionMode, string> = {
  api: 'API',
  editor: 'Editor',
  cli: 'tav run',
  retry: 'Retry',
  subworkflow: 'Sub-workflow',
  webhook: 'Webhook',
  schedule: 'Schedule',
  email: 'Email',
  mqtt: 'MQTT',
  mcp: 'MCP tool',
  trigger: 'Trigger',
}

export const STATUS_LABELS: Record<ExecutionStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  waiting: 'Waiting',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

/** The time spans the list filters by: how far back, in milliseconds. */
export const SPANS = {
  hour: { label: 'Last hour', ms: 3_600_000 },
  day: { label: 'Last 24 hours', ms: 86_400_000 },
  week: { label: 'Last 7 days', ms: 7 * 86_400_000 },
} as const

export type Span = keyof typeof SPANS

export interface Filters {
  workflow: string
  status: ExecutionStatus | ''
  mode: ExecutionMode | ''
  span: Span | ''
}

export const NO_FILTERS: Filters = { workflow: '', status: '', mode: '', span: '' }

/** The query of GET /api/v1/executions for `filters`, as of `now`. */
export function executionQuery(filters: Filters, now: number, limit: number, offset = 0): ExecutionQuery {
  const query: ExecutionQuery = { limit, offset }
  if (filters.workflow) query.workflow_id = filters.workflow
  if (filters.status) query.status = filters.status
  if (filters.mode) query.mode = filters.mode
  if (filters.span) query.started_after = new Date(now - SPANS[filters.span].ms).toISOString()
  return query
}

/** Filters read from a page's query string (`?workflow=…&status=…`), unknown values left out. */
export function filtersFrom(search: string): Filters {
  const params = new URLSearchParams(search)
  const pick = <T extends string>(key: string, known: readonly T[]): T | '' => {
    const value = params.get(key) as T | null
    return value && known.includes(value) ? value : ''
  }
  return {
    workflow: /^[0-9a-f]{32}$/.test(params.get('workflow') ?? '') ? (params.get('workflow') as string) : '',
    status: pick('status', Object.keys(STATUS_LABELS) as ExecutionStatus[]),
    mode: pick('mode', Object.keys(MODE_LABELS) as ExecutionMode[]),
    span: pick('span', Object.keys(SPANS) as Span[]),
  }
}

/** The query string that `filtersFrom` reads back, without the filters not set. */
export function filtersSearch(filters: Filters): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value)
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** How long to wait before reading the list again: soon while an execution on it is still
 * going, else slowly (to see new ones come in). */
export function pollDelay(items: readonly Pick<ExecutionSummary, 'status'>[]): number {
  return items.some((item) => item.status === 'queued' || item.status === 'running') ? 2000 : 10_000
}

/** Where an execution opens: its workflow in the editor, showing it; none when its
 * workflow is not stored (deleted, or a file run by `tav run`). */
export function executionLink(execution: Pick<ExecutionSummary, 'execution_id' | 'workflow_id'>): string | null {
  if (!execution.workflow_id) return null
  return `/workflows/${execution.workflow_id}?execution=${execution.execution_id}`
}

/** The successful runs the list leaves out because their workflows keep only a count of
 * them (`keep_successes: count`), or null when there are none or the filters (status,
 * mode, time) would leave them out anyway: the count follows the workflow filter only. */
export function notKept(page: Pick<ExecutionPage, 'successes_not_kept'>, filters: Filters): string | null {
  const count = page.successes_not_kept ?? 0
  const narrowed = filters.mode !== '' || filters.span !== '' || (filters.status !== '' && filters.status !== 'succeeded')
  if (count === 0 || narrowed) return null
  return `and ${count.toLocaleString('en')} successful run${count === 1 ? '' : 's'} not kept`
}
