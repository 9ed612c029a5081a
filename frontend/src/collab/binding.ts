// The editor's store bound to the shared document. The store stays what the canvas and the
// panels draw (React Flow nodes with their selection, measured sizes, dragging); the
// document is what everyone shares. Both ways, only what changed is carried over:
//
// - a change in the store (any of its actions) is compared node by node, edge by edge, with
//   what it was and written into the document as one transaction from this binding's own
//   origin; the undo manager tracks that origin alone, so that undo takes back one's own
//   changes and never someone else's;
// - a change in the document from anywhere else (another person, the server, undo) patches
//   the store: the nodes it touched are read again, keeping their selection and size, so
//   that a panel open on a node stays open and its focused input keeps the focus.
//
// Rejected: the document as the only state with the store derived from it after every
// change. React Flow keeps per-node UI state (selection, measured size, dragging) on the
// node objects, and rebuilding them all on each keystroke of a remote prompt would redraw
// every node; patching the touched ones keeps the objects of the others as they were.
import * as Y from 'yjs'
import type { StoreApi } from 'zustand'
import type { EditorState } from '../editor/store'
import { DEFAULT_INPUT, DEFAULT_OUTPUT, parseEnd, readNotes, toEdgeDef, toFlowEdge, toStoredNote, type FlowEdge, type FlowNode, type NoteNode } from '../lib/graph'
import { addEdge, addNode, edgesOf, edgeKey, inOrderOfMap, metaOf, nodesOf, readEdge, readMeta, readNode, writeMeta, writeNode, type IsText, type YNode } from './model'
import type { Delta } from './text'

/** Undo and redo of one's own changes, and the document they are made in. */
export interface Binding {
  readonly doc: Y.Doc
  /** Ends the undo step being gathered: the next change starts a new one. */
  boundary(): void
  undo(): void
  redo(): void
  /** While read-only, changes in the store are not written: the store is put back to the
   * document instead. */
  setReadOnly(readOnly: boolean): void
  destroy(): void
}

/** Someone else's change of a shared text param: where it was, and what changed. */
export type TextListener = (node: string, param: string, delta: Delta) => void
const textListeners = new Set<TextListener>()

/** Calls `listener` with every change of a text param made elsewhere (another person,
 * undo), as it lands and before it is drawn; the function returned stops it. */
export function onSharedText(listener: TextListener): () => void {
  textListeners.add(listener)
  return () => textListeners.delete(listener)
}

type Parts = Pick<EditorState, 'nodes' | 'edges' | 'notes' | 'base'>
const parts = ({ nodes, edges, notes, base }: Parts): Parts => ({ nodes, edges, notes, base })

/** The origin of the edges dropped because a node they end at is gone. */
const TIDY = { tidy: true }

/** The graph editing is one undo step while it goes on for less than this long. */
const CAPTURE_MS = 1000

export function bind(doc: Y.Doc, store: StoreApi<EditorState>, isText: IsText): Binding {
  const origin = { binding: true } // this editor's own changes
  const nodes = nodesOf(doc)
  const edges = edgesOf(doc)
  const meta = metaOf(doc)
  const history = new Y.UndoManager([nodes, edges, meta], { trackedOrigins: new Set([origin]), captureTimeout: CAPTURE_MS })
  let last = parts(store.getState())
  let pulling = false
  let readOnly = false
  const touched = { nodes: new Set<string>(), edges: false, meta: false }

  const unsubscribe = store.subscribe((state) => {
    if (pulling) return
    if (readOnly) return changedParts(last, state) && pullAll()
    push(state)
  })

  function push(state: EditorState): void {
    if (!changedParts(last, state)) return
    const before = last
    last = parts(state)
    doc.transact(() => {
      if (state.nodes !== before.nodes) pushNodes(before.nodes, state.nodes)
      if (state.edges !== before.edges) pushEdges(before.edges, state.edges)
      if (state.base !== before.base || notesMoved(before.notes, state.notes)) writeMeta(doc, state.base, state.notes.map(toStoredNote))
    }, origin)
  }

  function pushNodes(before: FlowNode[], after: FlowNode[]): void {
    const previous = new Map(before.map((node) => [node.id, node]))
    for (const node of after) {
      const was = previous.get(node.id)
      previous.delete(node.id)
      const at: [number, number] = [Math.round(node.position.x), Math.round(node.position.y)]
      const shared = nodes.get(node.id)
      if (!shared) addNode(doc, node.data.def, at, isText)
      else if (!was || was.data.def !== node.data.def || was.position !== node.position) writeNode(shared, node.data.def, at, isText)
    }
    for (const id of previous.keys()) nodes.delete(id)
  }

  function pushEdges(before: FlowEdge[], after: FlowEdge[]): void {
    const kept = new Set(after.map((edge) => edge.id))
    const gone = new Set(before.filter((edge) => !kept.has(edge.id)).map((edge) => edge.id))
    for (const [key, edge] of edges.entries()) {
      const def = readEdge(edge)
      if (def && gone.has(edgeKey(def))) edges.delete(key)
    }
    const had = new Set(before.map((edge) => edge.id))
    for (const edge of after) if (!had.has(edge.id)) addEdge(doc, toEdgeDef(edge))
  }

  // What others change: gathered per transaction, applied to the store once it ends.
  const onNodes = (events: Y.YEvent<Y.AbstractType<unknown>>[], transaction: Y.Transaction) => {
    if (transaction.origin === origin) return
    for (const event of events) {
      if (event.target === nodes) for (const key of (event as Y.YMapEvent<unknown>).keysChanged) touched.nodes.add(key)
      else touched.nodes.add(String(event.path[0]))
      if (event.target instanceof Y.Text && event.path.length === 3 && event.path[1] === 'params') {
        const delta = event.delta as Delta
        for (const listener of textListeners) listener(String(event.path[0]), String(event.path[2]), delta)
      }
    }
  }
  const onEdges = (_: unknown, transaction: Y.Transaction) => {
    if (transaction.origin !== origin) touched.edges = true
  }
  const onMeta = (_: unknown, transaction: Y.Transaction) => {
    if (transaction.origin !== origin) touched.meta = true
  }
  const afterTransaction = (transaction: Y.Transaction) => {
    if (transaction.origin === origin || !(touched.nodes.size || touched.edges || touched.meta)) return
    pull()
  }
  nodes.observeDeep(onNodes)
  edges.observeDeep(onEdges)
  meta.observeDeep(onMeta)
  doc.on('afterTransaction', afterTransaction)

  /** The store put back to the document, node for node in its order. */
  function pullAll(): void {
    const known = new Map(store.getState().nodes.map((node) => [node.id, node]))
    const all = [...nodes.entries()].map(([id, shared]) => flowNode(id, shared, known.get(id)))
    pulling = true
    try {
      store.setState({ nodes: all })
    } finally {
      pulling = false
    }
    touched.edges = touched.meta = true
    pull()
  }

  function pull(): void {
    const state = store.getState()
    const patch: Partial<EditorState> = {}
    if (touched.nodes.size) patch.nodes = pullNodes(state.nodes, touched.nodes)
    if (touched.nodes.size || touched.edges) patch.edges = pullEdges(state.edges, patch.nodes ?? state.nodes)
    if (touched.meta) Object.assign(patch, pullMeta(state))
    touched.nodes.clear()
    touched.edges = touched.meta = false
    pulling = true
    try {
      store.setState({ ...patch, revision: state.revision + 1 })
    } finally {
      pulling = false
    }
    last = parts(store.getState())
    store.getState().refreshDirty()
    if (!readOnly) dropDangling()
  }

  /** An edge drawn to a node someone removed at the same time ends nowhere: it goes too
   * (from no one's undo history: whoever brings the node back by undo brings its edges). */
  function dropDangling(): void {
    const dangling = [...edges.entries()].filter(([, edge]) => {
      const def = readEdge(edge)
      return def && !(nodes.has(parseEnd(def.from, DEFAULT_OUTPUT)[0]) && nodes.has(parseEnd(def.to, DEFAULT_INPUT)[0]))
    })
    if (dangling.length) doc.transact(() => dangling.forEach(([key]) => edges.delete(key)), TIDY)
  }

  function pullNodes(current: FlowNode[], ids: Set<string>): FlowNode[] {
    const next: FlowNode[] = []
    const seen = new Set<string>()
    for (const node of current) {
      seen.add(node.id)
      const shared = nodes.get(node.id)
      if (!ids.has(node.id)) next.push(node)
      else if (shared) next.push(flowNode(node.id, shared, node))
    }
    for (const id of ids) {
      const shared = nodes.get(id)
      if (shared && !seen.has(id)) next.push(flowNode(id, shared))
    }
    return next
  }

  /** The edges as the document has them, those the store already drew kept as they were
   * (selected or not); an edge to a node that is gone is not drawn. */
  function pullEdges(current: FlowEdge[], drawn: FlowNode[]): FlowEdge[] {
    const known = new Map(current.map((edge) => [edge.id, edge]))
    const ids = new Set(drawn.map((node) => node.id))
    const next = new Map<string, FlowEdge>()
    for (const shared of edges.values()) {
      const def = readEdge(shared)
      if (!def) continue
      const edge = toFlowEdge(def)
      if (ids.has(edge.source) && ids.has(edge.target) && !next.has(edge.id)) next.set(edge.id, known.get(edge.id) ?? edge)
    }
    return [...next.values()]
  }

  function pullMeta(state: EditorState): Pick<EditorState, 'base' | 'notes'> {
    const { fields, notes } = readMeta(doc)
    const selected = new Set(state.notes.filter((note) => note.selected).map((note) => note.id))
    const known = new Map(state.notes.map((note) => [note.id, note]))
    const next = readNotes(notes).map((note): NoteNode => {
      const was = known.get(note.id)
      if (was && JSON.stringify(toStoredNote(was)) === JSON.stringify(toStoredNote(note))) return was
      return selected.has(note.id) ? { ...note, selected: true } : note
    })
    return { base: { ...inOrderOfMap(fields, state.base, meta), nodes: [], edges: [] }, notes: next }
  }

  const syncHistory = () => store.setState({ canUndo: history.canUndo(), canRedo: history.canRedo() })
  history.on('stack-item-added', syncHistory)
  history.on('stack-item-popped', syncHistory)
  history.on('stack-cleared', syncHistory)

  return {
    doc,
    boundary: () => history.stopCapturing(),
    undo: () => {
      history.stopCapturing()
      history.undo()
    },
    redo: () => {
      history.redo()
    },
    setReadOnly(value) {
      readOnly = value
    },
    destroy() {
      unsubscribe()
      nodes.unobserveDeep(onNodes)
      edges.unobserveDeep(onEdges)
      meta.unobserveDeep(onMeta)
      doc.off('afterTransaction', afterTransaction)
      history.destroy()
    },
  }
}

/** The node the store draws for a node of the document; `was` keeps its UI state. */
function flowNode(id: string, shared: YNode, was?: FlowNode): FlowNode {
  const read = readNode(id, shared)
  const def = was ? inOrderOfMap(read.def, was.data.def, shared) : read.def
  const position = read.position
  const at = position ? { x: position[0], y: position[1] } : (was?.position ?? { x: 0, y: 0 })
  if (!was) return { id, type: 'tav', position: at, data: { def } }
  const moved = at.x !== Math.round(was.position.x) || at.y !== Math.round(was.position.y)
  return { ...was, position: moved ? at : was.position, data: { ...was.data, def } }
}

function changedParts(a: Parts, b: Parts): boolean {
  return a.nodes !== b.nodes || a.edges !== b.edges || a.notes !== b.notes || a.base !== b.base
}

/** Whether a note's text, colour, place or size changed (not only its selection). */
function notesMoved(before: NoteNode[], after: NoteNode[]): boolean {
  if (before.length !== after.length) return true
  return after.some((note, index) => {
    const was = before[index]
    return was.id !== note.id || was.data !== note.data || was.position !== note.position || was.width !== note.width || was.height !== note.height
  })
}
