// The shapes of the REST API (docs/api) that the editor uses.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonSchema = { [key: string]: unknown }

export type OnError = 'stop' | 'continue' | 'branch'

export interface RetryPolicy {
  max_attempts?: number
  backoff_s?: number
  backoff_factor?: number
  max_backoff_s?: number
  jitter?: boolean
}

export interface NodeDef {
  id: string
  type: string
  version?: number
  name?: string
  params?: Record<string, unknown>
  retry?: RetryPolicy
  timeout_s?: number
  on_error?: OnError
  pin?: Record<string, unknown>
}

export interface EdgeDef {
  from: string
  to: string
}

export interface WorkflowUi {
  positions?: Record<string, [number, number]>
  [key: string]: unknown
}

export interface WorkflowDocument {
  schema: 1
  name: string
  description?: string
  input_schema?: JsonSchema
  vars?: Record<string, unknown>
  nodes: NodeDef[]
  edges: EdgeDef[]
  ui?: WorkflowUi
}

export interface InputPort {
  description: string
  required: boolean
  many: boolean
}

export interface OutputPort {
  description: string
  schema?: JsonSchema
}

export interface NodeType {
  type: string
  version: number
  title: string
  category: string
  description: string
  icon: string | null
  pool: string | null
  inputs: Record<string, InputPort>
  outputs: Record<string, OutputPort>
  dynamic_outputs: boolean
  params_schema: JsonSchema
}

export type Catalog = Map<string, NodeType>

export interface WorkflowSummary {
  id: string
  name: string
  description: string
  active: boolean
  version: number
  created_at: string
  updated_at: string
}

export interface StoredWorkflow extends WorkflowSummary {
  document: WorkflowDocument
}

/** A stored file (POST /api/v1/files); `value` is its media value. */
export interface FileInfo {
  id: string
  name: string
  mime_type: string
  size: number
  sha256: string
  kind: string
  execution_id: string | null
  created_at: string
  url: string
  value: Record<string, unknown>
}

export interface Page<T> {
  items: T[]
  total: number
  limit: number
  offset: number
}

/** GET /api/v1/nodes/trigger.schedule/preview */
export interface SchedulePreview {
  next: string[]
  timezone: string
  fields: string[]
  warning: string | null
}

export interface Problem {
  location: string
  node: string | null
  edge: number | null
  field: string | null
  message: string
}

export interface ValidationReport {
  valid: boolean
  problems: Problem[]
}

export interface User {
  id: string
  email: string
  role: string
}

export interface AuthStatus {
  setup_required: boolean
  /** Creating the owner from this browser needs the setup token `tav serve` printed. */
  setup_token_required?: boolean
  /** Where the server keeps the setup token, while it is needed. */
  setup_token_file?: string | null
  user: User | null
}

export interface ErrorInfo {
  type: string
  message: string
}

export interface NodeResult {
  status: string
  attempts: number
  outputs: Record<string, unknown> | null
  error: ErrorInfo | null
  started_at: string | null
  finished_at: string | null
  duration_ms: number | null
  reused?: boolean
  pinned?: boolean
  usage?: Usage | null
}

/** Counted resources a node used: LLM tokens. */
export interface Usage {
  input_tokens?: number
  output_tokens?: number
  total_tokens?: number
  [key: string]: number | undefined
}

export interface ExecutionSummary {
  execution_id: string
  workflow: string
  workflow_id: string | null
  workflow_version: number | null
  status: string
  mode: string
  parent_execution_id: string | null
  error: ErrorInfo | null
  started_at: string
  finished_at: string | null
  duration_ms: number | null
}

export interface Execution extends ExecutionSummary {
  input: unknown
  output: unknown
  nodes: Record<string, NodeResult>
  usage?: Usage | null
}

export interface RunFrom {
  from_execution: string
  start_at: string[]
}

export interface VersionSummary {
  version: number
  name: string
  created_at: string
}

export interface CredentialSummary {
  id: string
  name: string
  kind: string
  /** The names of the fields that are set; values are never returned. */
  fields: string[]
  created_at: string
  updated_at: string
}

export interface CredentialKind {
  kind: string
  description: string
  secret_fields: string[]
  schema: JsonSchema
}

export interface ModelLink {
  credential: string
  model: string
}

export interface CredentialLimits {
  max_concurrent?: number | null
  requests_per_minute?: number | null
}

/** The runtime settings of GET/PUT /api/v1/settings. */
export interface RuntimeSettings {
  pools: Record<string, number>
  pool_default_limit: number
  retention_max_age_days: number | null
  retention_max_count: number | null
  ai_default_models: ModelLink[]
  ai_limits: Record<string, CredentialLimits>
}

export interface Variable {
  name: string
  value: unknown
}

/** One event of an execution's stream (docs/api/execution.md#event-types). */
export interface RunEvent {
  seq: number
  type: string
  execution_id: string
  at: string
  node_id?: string
  attempt?: number
  attempts?: number
  duration_ms?: number
  error?: ErrorInfo | null
  data?: Record<string, unknown>
  delay_s?: number
  reason?: string
  status?: string
}
