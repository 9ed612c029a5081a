// The workflow document (format v1, docs/reference/workflow-format.md) and the node catalog
// (GET /api/v1/nodes), as the editor reads and writes them. The API takes and gives both
// as open JSON objects — the server checks a document itself and locates every problem in
// it, and the catalog comes from the node classes — so its OpenAPI document has no types
// for them to generate; these follow tav.core.workflow and NodeRegistry.catalog().

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
  /** False for a type the server knows but could not load; `error` says why. */
  available?: boolean
  error?: string | null
}

export type Catalog = Map<string, NodeType>
