// A node's input and output in one execution, as its panel shows them side by side: what
// arrived on each input port (read from the upstream nodes' outputs along the edges), and
// any value as a table when it has rows and columns.
import type { Execution, Problem } from '../api/types'

/** One edge's worth of input: the upstream node and port, and the value if one arrived. */
export interface Arrival {
  node: string
  port: string
  arrived: boolean
  value?: unknown
}

export type NodeInput =
  /** A trigger's input is the execution's: its trigger payload. */
  | { kind: 'trigger'; value: unknown }
  /** Every input port with an edge, and what each edge brought. */
  | { kind: 'ports'; ports: { port: string; arrivals: Arrival[] }[] }

export interface EdgeLike {
  source: string
  sourceHandle?: string | null
  target: string
  targetHandle?: string | null
}

/** What `nodeId` received in `execution`, by the edges drawn now (`edges`). A value arrived
 * when the upstream node's result has it on that port: as the engine hands inputs over. */
export function nodeInput(nodeId: string, isTrigger: boolean, edges: EdgeLike[], execution: Execution): NodeInput {
  if (isTrigger) return { kind: 'trigger', value: execution.input }
  const ports = new Map<string, Arrival[]>()
  for (const edge of edges) {
    if (edge.target !== nodeId) continue
    const port = edge.targetHandle || 'input'
    const sourcePort = edge.sourceHandle || 'output'
    const outputs = execution.nodes[edge.source]?.outputs ?? {}
    const arrived = Object.hasOwn(outputs, sourcePort)
    const arrival: Arrival = arrived ? { node: edge.source, port: sourcePort, arrived, value: outputs[sourcePort] } : { node: edge.source, port: sourcePort, arrived }
    ports.set(port, [...(ports.get(port) ?? []), arrival])
  }
  return { kind: 'ports', ports: [...ports].map(([port, arrivals]) => ({ port, arrivals })) }
}

export interface Table {
  columns: string[]
  rows: unknown[][]
}

const VALUE = 'value'

/** `value` as rows and columns: a list of objects (a column per key, in the order first
 * met), a list of plain values (one column), or one object (one row); null when it has
 * no such shape (a plain value, an empty list). */
export function toTable(value: unknown): Table | null {
  if (Array.isArray(value)) {
    if (!value.length) return null
    if (!value.every(isRecord)) return value.some(isRecord) ? null : { columns: [VALUE], rows: value.map((item) => [item]) }
    const columns = [...new Set(value.flatMap((item) => Object.keys(item)))]
    return { columns, rows: value.map((item) => columns.map((column) => item[column])) }
  }
  if (isRecord(value)) {
    const columns = Object.keys(value)
    return columns.length ? { columns, rows: [columns.map((column) => value[column])] } : null
  }
  return null
}

/** A table cell: text as it is, other plain values as JSON, a missing key as nothing,
 * nested values as JSON cut to `max` characters. */
export function cellText(value: unknown, max = 80): string {
  if (value === undefined) return ''
  if (typeof value === 'string') return value
  const text = JSON.stringify(value) ?? String(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export type PanelTab = 'params' | 'settings' | 'output'

/** Where a node's settings that are not params live in the panel. */
const SETTINGS_FIELDS = ['on_error', 'retry', 'timeout_s']

/** The tab a node's panel opens on: the problem of an invalid node (its params, or its
 * settings), else what it did in the execution shown (or its pinned output), else its
 * params. */
export function initialTab(problems: Problem[], inRun: boolean, pinned: boolean): PanelTab {
  if (problems.length) {
    const settings = problems.every((problem) => SETTINGS_FIELDS.some((field) => problem.field === field || problem.field?.startsWith(`${field}.`)))
    return settings ? 'settings' : 'params'
  }
  return inRun || pinned ? 'output' : 'params'
}
