// Workflow document <-> React Flow graph, as pure functions. Positions live in the
// document's `ui.positions` and sticky notes in `ui.notes` (editor-only data); everything
// else in a node is kept as it was written, so a document survives a round trip through
// the editor unchanged.
import type { Edge, Node } from '@xyflow/react'
import type { Catalog, EdgeDef, NodeDef, NodeType, WorkflowDocument, WorkflowUi } from '../api/types'
import { layeredLayout } from './layout'

export const DEFAULT_OUTPUT = 'output'
export const DEFAULT_INPUT = 'input'
export const ERROR_PORT = 'error'
export const COLUMN = 280
export const ROW = 130

export interface NodeData extends Record<string, unknown> {
  def: NodeDef
}
export type FlowNode = Node<NodeData, 'tav'>
export type FlowEdge = Edge

export const NOTE_COLORS = ['yellow', 'blue', 'green', 'pink', 'gray'] as const
export type NoteColor = (typeof NOTE_COLORS)[number]
export interface NoteData extends Record<string, unknown> {
  text: string
  color: NoteColor
}
/** A sticky note: a canvas item of its own, never a node of the workflow. Its id has a
 * `-`, which node ids cannot have, so the two never collide. */
export type NoteNode = Node<NoteData, 'note'>
export const NOTE_SIZE = { width: 220, height: 120 }
/** Under the edges and the nodes, so that a note never hides a connection. */
export const NOTE_Z = -1

/** A note as the document keeps it, in `ui.notes`. */
export interface StoredNote {
  id: string
  text: string
  position: [number, number]
  size?: [number, number]
  color?: string
}

export interface Graph {
  nodes: FlowNode[]
  edges: FlowEdge[]
  notes?: NoteNode[]
}

export function parseEnd(end: string, defaultPort: string): [string, string] {
  const at = end.indexOf(':')
  return at < 0 ? [end, defaultPort] : [end.slice(0, at), end.slice(at + 1) || defaultPort]
}

export function formatEnd(node: string, port: string | null | undefined, defaultPort: string): string {
  return !port || port === defaultPort ? node : `${node}:${port}`
}

export function edgeId(source: string, sourcePort: string, target: string, targetPort: string): string {
  return `${source}:${sourcePort}->${target}:${targetPort}`
}

export function toFlowEdge(edge: EdgeDef): FlowEdge {
  const [source, sourceHandle] = parseEnd(edge.from, DEFAULT_OUTPUT)
  const [target, targetHandle] = parseEnd(edge.to, DEFAULT_INPUT)
  return { id: edgeId(source, sourceHandle, target, targetHandle), source, sourceHandle, target, targetHandle }
}

export function toEdgeDef(edge: FlowEdge): EdgeDef {
  return {
    from: formatEnd(edge.source, edge.sourceHandle, DEFAULT_OUTPUT),
    to: formatEnd(edge.target, edge.targetHandle, DEFAULT_INPUT),
  }
}

export function workflowToGraph(written: WorkflowDocument): Graph {
  // `nodes` and `edges` may be left out of a document written by hand: both default to [].
  const document = { ...written, nodes: written.nodes ?? [], edges: written.edges ?? [] }
  const stored = document.ui?.positions ?? {}
  const missing = document.nodes.some((node) => !validPosition(stored[node.id]))
  const auto = missing ? layeredPositions(document) : {}
  const nodes = document.nodes.map((def): FlowNode => {
    const [x, y] = validPosition(stored[def.id]) ? stored[def.id] : auto[def.id]
    return { id: def.id, type: 'tav', position: { x, y }, data: { def } }
  })
  return { nodes, edges: document.edges.map(toFlowEdge), notes: readNotes(document.ui?.notes) }
}

/** The document with the graph's nodes, edges, positions and notes; other fields from `base`. */
export function graphToWorkflow(base: WorkflowDocument, graph: Graph): WorkflowDocument {
  const positions: Record<string, [number, number]> = {}
  for (const node of graph.nodes) positions[node.id] = [Math.round(node.position.x), Math.round(node.position.y)]
  const ui: WorkflowUi = { ...base.ui, positions }
  if (graph.notes) {
    if (graph.notes.length) ui.notes = graph.notes.map(toStoredNote)
    else delete ui.notes
  }
  return {
    ...base,
    nodes: graph.nodes.map((node) => node.data.def),
    edges: graph.edges.map(toEdgeDef),
    ui,
  }
}

function validPosition(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v))
}

/** The notes of `ui.notes`; anything there that is not a note is dropped. */
export function readNotes(value: unknown): NoteNode[] {
  if (!Array.isArray(value)) return []
  const notes: NoteNode[] = []
  const seen = new Set<string>()
  for (const item of value as Partial<StoredNote>[]) {
    if (!item || typeof item !== 'object' || !validPosition(item.position)) continue
    const id = typeof item.id === 'string' && item.id.includes('-') && !seen.has(item.id) ? item.id : newNoteId(seen)
    seen.add(id)
    const [width, height] = validPosition(item.size) ? item.size : [NOTE_SIZE.width, NOTE_SIZE.height]
    const color = (NOTE_COLORS as readonly string[]).includes(item.color ?? '') ? (item.color as NoteColor) : 'yellow'
    const text = typeof item.text === 'string' ? item.text : ''
    notes.push({ id, type: 'note', zIndex: NOTE_Z, position: { x: item.position[0], y: item.position[1] }, width, height, data: { text, color } })
  }
  return notes
}

export function toStoredNote(note: NoteNode): StoredNote {
  const width = note.width ?? note.measured?.width ?? NOTE_SIZE.width
  const height = note.height ?? note.measured?.height ?? NOTE_SIZE.height
  return {
    id: note.id,
    text: note.data.text,
    position: [Math.round(note.position.x), Math.round(note.position.y)],
    size: [Math.round(width), Math.round(height)],
    color: note.data.color,
  }
}

export function newNoteId(taken: Iterable<string>): string {
  const used = new Set(taken)
  for (let n = 1; ; n++) if (!used.has(`note-${n}`)) return `note-${n}`
}

export function isNoteId(id: string): boolean {
  return id.includes('-')
}

/** Positions of a document's nodes, laid out left to right, for documents written
 * without positions. */
export function layeredPositions(document: WorkflowDocument): Record<string, [number, number]> {
  const ids = document.nodes.map((node) => node.id)
  const links = document.edges.map((edge): [string, string] => [parseEnd(edge.from, DEFAULT_OUTPUT)[0], parseEnd(edge.to, DEFAULT_INPUT)[0]])
  const positions: Record<string, [number, number]> = {}
  for (const [id, { x, y }] of layeredLayout(ids, links, { gapX: COLUMN - 200, gapY: ROW - 50 })) positions[id] = [x, y]
  return positions
}

export function inputPorts(type: NodeType | undefined): string[] {
  return type ? Object.keys(type.inputs) : [DEFAULT_INPUT]
}

/** Output ports of a node: its type's, those its params add (Switch cases, Classify
 * labels) and `error` when its errors branch. */
export function outputPorts(def: NodeDef, type: NodeType | undefined): string[] {
  const ports = type ? Object.keys(type.outputs) : [DEFAULT_OUTPUT]
  if (type?.dynamic_outputs) ports.push(...dynamicPorts(def.params ?? {}))
  if (def.on_error === 'branch') ports.push(ERROR_PORT)
  return [...new Set(ports)]
}

function dynamicPorts(params: Record<string, unknown>): string[] {
  const ports: string[] = []
  for (const key of ['cases', 'labels']) {
    const value = params[key]
    if (!Array.isArray(value)) continue
    for (const item of value) {
      const name = typeof item === 'string' ? item : (item as { name?: unknown; label?: unknown })?.name ?? (item as { label?: unknown })?.label
      if (typeof name === 'string' && name) ports.push(name)
    }
  }
  return ports
}

/** A readable, unused node id for a new node of `type`: `http_request`, `http_request_2`. */
export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken)
  let base = (type.split('.').pop() ?? 'node').replace(/[^A-Za-z0-9_]/g, '_').slice(0, 56)
  if (!/^[A-Za-z_]/.test(base)) base = `n_${base}`
  if (!used.has(base)) return base
  for (let n = 2; ; n++) if (!used.has(`${base}_${n}`)) return `${base}_${n}`
}

export function typeOf(catalog: Catalog, def: NodeDef): NodeType | undefined {
  return catalog.get(def.type)
}
