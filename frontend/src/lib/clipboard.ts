// Copy and paste of nodes, as pure functions. What goes on the clipboard is a workflow
// document holding the copied nodes, the edges between them, their positions and the
// copied sticky notes: it pastes into any workflow, in any tab, and is also a document
// that imports as a workflow of its own (and an exported file pastes as well).
import type { NodeDef, WorkflowDocument } from '../api/types'
import {
  DEFAULT_INPUT,
  DEFAULT_OUTPUT,
  edgeId,
  newNoteId,
  parseEnd,
  readNotes,
  toEdgeDef,
  toStoredNote,
  type FlowEdge,
  type FlowNode,
  type NoteNode,
} from './graph'

export interface Pasted {
  nodes: FlowNode[]
  edges: FlowEdge[]
  notes: NoteNode[]
}

/** The selected nodes and notes as a workflow document, or null when nothing is selected. */
export function copySelection(name: string, nodes: FlowNode[], edges: FlowEdge[], notes: NoteNode[]): WorkflowDocument | null {
  const chosen = nodes.filter((node) => node.selected)
  const chosenNotes = notes.filter((note) => note.selected)
  if (!chosen.length && !chosenNotes.length) return null
  const ids = new Set(chosen.map((node) => node.id))
  const positions: Record<string, [number, number]> = {}
  for (const node of chosen) positions[node.id] = [Math.round(node.position.x), Math.round(node.position.y)]
  const ui: WorkflowDocument['ui'] = { positions }
  if (chosenNotes.length) ui.notes = chosenNotes.map(toStoredNote)
  return {
    schema: 1,
    name: `${name} (copied nodes)`.slice(0, 200),
    nodes: chosen.map((node) => node.data.def),
    edges: edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(toEdgeDef),
    ui,
  }
}

/** The document on the clipboard, or null when the text is not one. */
export function readClipboard(text: string): WorkflowDocument | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null
  const document = value as Partial<WorkflowDocument>
  if (!Array.isArray(document.nodes) || !document.nodes.every(isNodeDef)) return null
  const notes = readNotes(document.ui?.notes)
  if (!document.nodes.length && !notes.length) return null
  return { schema: 1, name: String(document.name ?? ''), nodes: document.nodes, edges: Array.isArray(document.edges) ? document.edges : [], ui: document.ui }
}

function isNodeDef(value: unknown): value is NodeDef {
  const def = value as NodeDef
  return Boolean(def) && typeof def === 'object' && typeof def.id === 'string' && typeof def.type === 'string'
}

/**
 * The nodes, edges and notes of `document` ready to add to a graph whose ids are `taken`:
 * clashing ids get a new one (`set` becomes `set_2`), templates of the pasted nodes that
 * refer to a renamed node follow it, and the whole group moves so that its top left
 * corner is at `at`. Edges to nodes that were not copied are left out. Everything pasted
 * is selected.
 */
export function pasteDocument(document: WorkflowDocument, taken: Iterable<string>, at: { x: number; y: number }): Pasted {
  const used = new Set(taken)
  const renamed = new Map<string, string>()
  for (const def of document.nodes) {
    const id = uniqueId(def.id, used)
    used.add(id)
    renamed.set(def.id, id)
  }
  const stored = document.ui?.positions ?? {}
  const notes = readNotes(document.ui?.notes)
  const origin = topLeft([...document.nodes.map((def, index) => stored[def.id] ?? [index * 40, index * 40]), ...notes.map((n): [number, number] => [n.position.x, n.position.y])])
  const nodes = document.nodes.map((def, index): FlowNode => {
    const [x, y] = stored[def.id] ?? [index * 40, index * 40]
    const id = renamed.get(def.id)!
    return { id, type: 'tav', selected: true, position: { x: x - origin[0] + at.x, y: y - origin[1] + at.y }, data: { def: { ...followRenames(def, renamed), id } } }
  })
  const edges: FlowEdge[] = []
  for (const edge of document.edges) {
    const [source, sourceHandle] = parseEnd(edge.from, DEFAULT_OUTPUT)
    const [target, targetHandle] = parseEnd(edge.to, DEFAULT_INPUT)
    const from = renamed.get(source)
    const to = renamed.get(target)
    if (!from || !to) continue
    edges.push({ id: edgeId(from, sourceHandle, to, targetHandle), source: from, sourceHandle, target: to, targetHandle })
  }
  const pastedNotes = notes.map((note): NoteNode => {
    const id = newNoteId(used)
    used.add(id)
    return { ...note, id, selected: true, position: { x: note.position.x - origin[0] + at.x, y: note.position.y - origin[1] + at.y } }
  })
  return { nodes, edges, notes: pastedNotes }
}

/** `base`, or `base_2`, `base_3`, ... — the first that is not used. */
export function uniqueId(base: string, used: Set<string>): string {
  if (!used.has(base)) return base
  const stem = base.replace(/_\d+$/, '').slice(0, 56)
  for (let n = 2; ; n++) if (!used.has(`${stem}_${n}`)) return `${stem}_${n}`
}

/** The node with `nodes.<old>` in its params' templates changed to `nodes.<new>`. */
export function followRenames(def: NodeDef, renamed: Map<string, string>): NodeDef {
  if (!def.params || [...renamed].every(([from, to]) => from === to)) return def
  const text = JSON.stringify(def.params).replace(/\bnodes\.([A-Za-z_][A-Za-z0-9_]*)/g, (whole, id: string) => (renamed.has(id) ? `nodes.${renamed.get(id)}` : whole))
  return { ...def, params: JSON.parse(text) }
}

function topLeft(points: [number, number][]): [number, number] {
  if (!points.length) return [0, 0]
  return [Math.min(...points.map((p) => p[0])), Math.min(...points.map((p) => p[1]))]
}
