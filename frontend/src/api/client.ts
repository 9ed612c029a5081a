// A small typed client of the REST API under /api/v1. The browser's session cookie
// authenticates every call; a 401 tells the app to show the login screen. Every save of a
// workflow names the version it was edited from (`If-Match`), so that it never overwrites
// someone else's save made in between: the server answers 409 instead.
import type {
  AuthStatus,
  Catalog,
  CredentialKind,
  CredentialSummary,
  McpTool,
  Execution,
  ExecutionPage,
  ExecutionQuery,
  FileInfo,
  NodeType,
  RunAccepted,
  RunFrom,
  RunRequest,
  RuntimeSettings,
  SchedulePreview,
  SettingsUpdate,
  StoredWorkflow,
  User,
  ValidationReport,
  Variable,
  VersionSummary,
  Wait,
  WaitDecided,
  WaitDecision,
  WorkflowDocument,
  WorkflowPage,
} from './types'

export const API = '/api/v1'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details: unknown) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

type Unauthorized = () => void
let onUnauthorized: Unauthorized = () => {}

/** Called whenever a request answers 401 (the session ended). */
export function setUnauthorizedHandler(handler: Unauthorized): void {
  onUnauthorized = handler
}

interface RequestOptions {
  /** The body's type when it is sent as the text given, not as JSON. */
  contentType?: string
  headers?: Record<string, string>
}

export async function request<T>(method: string, path: string, body?: unknown, { contentType, headers: extra }: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extra }
  let payload: BodyInit | undefined
  if (body !== undefined) {
    headers['Content-Type'] = contentType ?? 'application/json'
    payload = typeof body === 'string' && contentType ? body : JSON.stringify(body)
  }
  const response = await fetch(API + path, { method, headers, body: payload, credentials: 'same-origin' })
  if (response.status === 204) return undefined as T
  if (response.status === 401 && !path.startsWith('/auth/')) onUnauthorized()
  return answer<T>(response)
}

/** The JSON of a response, or its error as an ApiError. An error answer that is not the
 * API's JSON (a proxy's page, say) is told by its status text. */
async function answer<T>(response: Response): Promise<T> {
  let data: { error?: { code?: string; message?: string; details?: unknown } } | null = null
  try {
    data = await response.json()
  } catch (error) {
    if (response.ok) throw new ApiError(response.status, 'invalid_answer', `The server's answer is not JSON: ${(error as Error).message}`, null)
  }
  if (!response.ok) {
    const error = data?.error ?? {}
    throw new ApiError(response.status, error.code ?? 'error', error.message ?? response.statusText, error.details)
  }
  return data as T
}

/** The guard of a save: the version the edit started from, as the ETag the server gave. */
function ifMatch(version: number): Record<string, string> {
  return { 'If-Match': `"${version}"` }
}

export const api = {
  status: () => request<AuthStatus>('GET', '/auth/status'),
  setup: (email: string, password: string, setupToken?: string) =>
    request<User>('POST', '/auth/setup', { email, password, setup_token: setupToken || undefined }),
  login: (email: string, password: string) => request<User>('POST', '/auth/login', { email, password }),
  logout: () => request<void>('POST', '/auth/logout'),

  /** When a schedule trigger with this cron and time zone fires next; 422 with the
   * located problem when the expression or the zone is not valid. */
  schedulePreview: (cron: string, timezone: string, count = 5) =>
    request<SchedulePreview>('GET', `/nodes/trigger.schedule/preview?${new URLSearchParams({ cron, timezone, count: String(count) })}`),
  nodeTypes: async (): Promise<Catalog> => {
    const types = await request<NodeType[]>('GET', '/nodes')
    return new Map(types.map((type) => [type.type, type]))
  },
  credentials: () => request<CredentialSummary[]>('GET', '/credentials'),
  credentialKinds: () => request<CredentialKind[]>('GET', '/credentials/kinds'),
  createCredential: (name: string, kind: string, data: Record<string, unknown>) =>
    request<CredentialSummary>('POST', '/credentials', { name, kind, data }),
  updateCredential: (id: string, change: { name?: string; data?: Record<string, unknown> }) =>
    request<CredentialSummary>('PUT', `/credentials/${id}`, change),
  deleteCredential: (id: string) => request<void>('DELETE', `/credentials/${id}`),
  /** The tools of an MCP server (an `mcp_server` credential), with their schemas. */
  mcpTools: (id: string) => request<McpTool[]>('GET', `/credentials/${encodeURIComponent(id)}/mcp-tools`),

  settings: () => request<RuntimeSettings>('GET', '/settings'),
  saveSettings: (change: SettingsUpdate) => request<RuntimeSettings>('PUT', '/settings', change),
  variables: () => request<Variable[]>('GET', '/variables'),
  setVariable: (name: string, value: unknown) => request<Variable>('PUT', `/variables/${encodeURIComponent(name)}`, { value }),
  deleteVariable: (name: string) => request<void>('DELETE', `/variables/${encodeURIComponent(name)}`),

  workflows: (search: string, limit = 200) =>
    request<WorkflowPage>('GET', `/workflows?limit=${limit}&search=${encodeURIComponent(search)}`),
  workflow: (id: string) => request<StoredWorkflow>('GET', `/workflows/${id}`),
  createWorkflow: (document: WorkflowDocument) => request<StoredWorkflow>('POST', '/workflows', document),
  /** Saves `document` as the next version, only if the workflow is still at `baseVersion`
   * (409 `conflict` when someone saved since). */
  saveWorkflow: (id: string, document: WorkflowDocument, baseVersion: number) =>
    request<StoredWorkflow>('PUT', `/workflows/${id}`, document, { headers: ifMatch(baseVersion) }),
  /** Makes the workflow's live draft (what its room holds) the next numbered version;
   * 422 `workflow_invalid` with the problems when it is not valid. */
  saveDraft: (id: string) => request<StoredWorkflow>('POST', `/workflows/${id}/draft/save`),
  deleteWorkflow: (id: string) => request<void>('DELETE', `/workflows/${id}`),
  importWorkflow: (text: string) => {
    const isJson = /^\s*[{[]/.test(text)
    return request<StoredWorkflow>('POST', '/workflows/import', text, { contentType: isJson ? 'application/json' : 'application/yaml' })
  },
  exportUrl: (id: string, format: 'json' | 'yaml', version?: number) =>
    `${API}/workflows/${id}/export?format=${format}${version ? `&version=${version}` : ''}`,
  versions: (id: string) => request<VersionSummary[]>('GET', `/workflows/${id}/versions`),
  /** Saves version `version` again as the newest, only if the workflow is still at
   * `baseVersion`. */
  restoreVersion: (id: string, version: number, baseVersion: number) =>
    request<StoredWorkflow>('POST', `/workflows/${id}/versions/${version}/restore`, undefined, { headers: ifMatch(baseVersion) }),
  activate: (id: string) => request<StoredWorkflow>('POST', `/workflows/${id}/activate`),
  deactivate: (id: string) => request<StoredWorkflow>('POST', `/workflows/${id}/deactivate`),
  validate: (document: WorkflowDocument) => request<ValidationReport>('POST', '/workflows/validate', document),

  // The editor's runs say so (mode `editor`), so that they are not listed as the API's.
  run: (id: string, input: unknown) => request<RunAccepted>('POST', `/workflows/${id}/run`, { input, mode: 'editor' } satisfies RunRequest),
  /** Run from node: `start_at` and everything downstream run again, the rest is reused. */
  runFrom: (id: string, from: RunFrom) => request<RunAccepted>('POST', `/workflows/${id}/run`, { ...from, mode: 'editor' } satisfies RunRequest),
  executions: (workflowId: string, limit = 50, offset = 0) =>
    request<ExecutionPage>('GET', `/executions?workflow_id=${workflowId}&limit=${limit}&offset=${offset}`),
  /** Executions of every workflow, newest first; each filter given narrows them. */
  findExecutions: (query: ExecutionQuery) => request<ExecutionPage>('GET', `/executions?${searchParams(query)}`),
  execution: (id: string) => request<Execution>('GET', `/executions/${id}`),
  cancel: (id: string) => request<RunAccepted>('POST', `/executions/${id}/cancel`),
  /** The execution's events; after `after` (a sequence number), those that come next. */
  streamUrl: (id: string, after = 0) => `${API}/executions/${id}/stream${after ? `?after=${after}` : ''}`,
  /** Every wait the execution reached, open or not, each saying whether the caller may decide it. */
  waits: (id: string) => request<Wait[]>('GET', `/executions/${id}/waits`),
  /** Decides a wait: 422 `form_invalid` (details: the fields' problems), 409 (decided
   * already, or approved by this person already), 410 (over), 403 (not theirs). */
  decide: (id: string, nodeId: string, decision: WaitDecision) =>
    request<WaitDecided>('POST', `/executions/${id}/waits/${encodeURIComponent(nodeId)}`, decision),

  /** Uploads a file (multipart, one part `file`); its `value` is the media value to hand
   * a workflow. */
  uploadFile: async (file: File): Promise<FileInfo> => {
    const form = new FormData()
    form.append('file', file, file.name)
    const response = await fetch(`${API}/files`, { method: 'POST', body: form, headers: { Accept: 'application/json' }, credentials: 'same-origin' })
    if (response.status === 401) onUnauthorized()
    return answer<FileInfo>(response)
  },
}

/** A query string of the parameters that are set. */
function searchParams(query: Record<string, string | number | null | undefined>): URLSearchParams {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  return params
}
