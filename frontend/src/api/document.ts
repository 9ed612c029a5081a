// The workflow document (format v1, docs/reference/workflow-format.md) as the editor holds
// it, and the node catalog (GET /api/v1/nodes). The document's types are generated from the
// server's OpenAPI document (WorkflowDocument, from tav.core.workflow); the editor keeps
// `nodes` and `edges` always present, and reads `ui`, its own data, as WorkflowUi. The
// catalog is an open JSON list in the API (it comes from the node classes), so its shape is
// written here, after NodeRegistry.catalog().
import type { components } from './schema'

type Schemas = components['schemas']

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonSchema = { [key: string]: unknown }

export type NodeDef = Schemas['NodeDef']
export type EdgeDef = Schemas['EdgeDef']
export type RetryPolicy = Schemas['RetryPolicy']
export type OnError = NonNullable<NodeDef['on_error']>

/** The editor's own data in a document: where the nodes are drawn, and its notes. */
export interface WorkflowUi {
  positions?: Record<string, [number, number]>
  [key: string]: unknown
}

export type WorkflowDocument = Omit<Schemas['WorkflowDocument'], 'schema' | 'nodes' | 'edges' | 'ui'> & {
  schema: 1
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
