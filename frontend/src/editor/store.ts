// The editor's one store: the graph being edited (nodes, edges, sticky notes), validation
// problems and the execution shown on the canvas. Components subscribe to the slices they
// draw. The graph is bound to the workflow's shared document (../collab/binding), which
// others edit too and which keeps the undo history of one's own changes.
import {
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
  type XYPosition,
} from '@xyflow/react'
import * as Y from 'yjs'
import { create, type StateCreator } from 'zustand'
import type { Catalog, Execution, NodeDef, Problem, RunEvent, StoredWorkflow, WorkflowDocument } from '../api/types'
import { bind, type Binding } from '../collab/binding'
import { fingerprint, inOrderOfMap, metaOf, nodesOf, readDocument, readMeta, writeDocument, type IsText } from '../collab/model'
import { copySelection, pasteDocument } from '../lib/clipboard'
import { connectionProblem } from '../lib/connection'
import {
  DEFAULT_INPUT,
  DEFAULT_OUTPUT,
  edgeId,
  graphToWorkflow,
  inputPorts,
  isNoteId,
  newNodeId,
  newNoteId,
  NOTE_SIZE,
  NOTE_Z,
  outputPorts,
  workflowToGraph,
  type FlowEdge,
  type FlowNode,
  type NoteData,
  type NoteNode,
} from '../lib/graph'
import { layeredLayout, type Size } from '../lib/layout'
import { fieldsFromSchema, LONG_TEXT_FORMATS } from '../lib/schemaForm'
import { EMPTY_RUN, FINISHED, openedRun, reduceRun, startedRun, withResults, type RunState } from './run'

export type { NodeRunState, NodeStatus, RunState } from './run'

export interface EditorState {
  catalog: Catalog
  workflowId: string | null
  version: number
  /** Whether the workflow's triggers are armed (its `active` flag on the server). */
  active: boolean
  base: WorkflowDocument
  nodes: FlowNode[]
  edges: FlowEdge[]
  notes: NoteNode[]
  /** Whether the document differs from the version saved last. */
  dirty: boolean
  /** The fingerprint of the version saved last (../collab/model). */
  saved: string
  revision: number
  canUndo: boolean
  canRedo: boolean
  /** Whether the graph is only shown, not edited here (a viewer's). */
  readOnly: boolean
  problems: Problem[]
  run: RunState
  notice: { kind: 'error' | 'info'; text: string; at: number } | null
  /** The output port a new node is to be added after and connected to (its "+" was
   * clicked), until a node is added or this is cancelled. */
  addingAfter: { node: string; port: string } | null

  /** Opens a workflow: its saved version `stored`, edited in the shared document `shared`
   * (the live draft), or in a document of its own when there is none. */
  load(stored: StoredWorkflow, catalog: Catalog, shared?: Y.Doc): void
  document(): WorkflowDocument
  /** `stored` is the version saved last. */
  markSaved(stored: StoredWorkflow): void
  /** Compares the document with the version saved last again. */
  refreshDirty(): void
  /** The shared document the graph is bound to. */
  sharedDocument(): Y.Doc | null
  /** Whether the graph may be changed here (false for a viewer). */
  setReadOnly(readOnly: boolean): void
  setActive(active: boolean): void
  onNodesChange(changes: NodeChange<FlowNode | NoteNode>[]): void
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void
  onDragStart(): void
  connect(connection: Connection): string | null
  /** A node of `type` at `position`, selected; connected from `from` (its port `port`,
   * else its first output) when given. */
  addNode(type: string, position: XYPosition, from?: string, port?: string): string
  /** Start adding a node after a node's output port (null: stop). */
  addAfter(after: { node: string; port: string } | null): void
  updateNode(id: string, update: (def: NodeDef) => NodeDef, key?: string): void
  setPin(id: string, pin: Record<string, unknown> | undefined): void
  addNote(position: XYPosition): string
  updateNote(id: string, data: Partial<NoteData>): void
  rename(name: string): void
  /** The document's own fields (description, mcp, input_schema, ...); undefined removes one. */
  updateBase(patch: Partial<WorkflowDocument>): void
  deleteSelected(): void
  selectAll(): void
  select(id: string | null): void
  copy(): WorkflowDocument | null
  paste(document: WorkflowDocument, at: XYPosition): number
  layout(size?: (id: string) => Size | undefined): void
  undo(): void
  redo(): void
  setProblems(problems: Problem[]): void
  notify(kind: 'error' | 'info', text: string): void
  startRun(executionId: string): void
  showExecution(execution: Execution): void
  applyEvent(event: RunEvent): void
  setExecution(execution: Execution): void
  clearRun(): void
}

/** The editor's state and actions, for `create` (the one store below, or a second one in
 * tests that edit a workflow as two people). */
export const editorState: StateCreator<EditorState> = (set, get, store) => {
  let lastCheckpoint = { key: '', at: 0 }
  let binding: Binding | null = null

  /** Start a new undo step, unless the same kind of edit was just made. */
  function checkpoint(key = ''): void {
    const now = Date.now()
    if (key && key === lastCheckpoint.key && now - lastCheckpoint.at < 1000) {
      lastCheckpoint.at = now
      return
    }
    lastCheckpoint = { key, at: now }
    binding?.boundary()
  }

  /** A change to the document; `content` when it can change what the server thinks of
   * it (so it is validated again), not for positions and notes. */
  function changed(patch: Partial<EditorState>, content = true): void {
    set((state) => ({ ...patch, revision: content ? state.revision + 1 : state.revision }))
    get().refreshDirty()
  }

  function deselected<T extends FlowNode | NoteNode>(items: T[]): T[] {
    return items.map((item) => (item.selected ? { ...item, selected: false } : item))
  }

  return {
    catalog: new Map(),
    workflowId: null,
    active: false,
    version: 0,
    base: { schema: 1, name: '', nodes: [], edges: [] },
    nodes: [],
    edges: [],
    notes: [],
    dirty: false,
    saved: '',
    revision: 0,
    canUndo: false,
    canRedo: false,
    readOnly: false,
    problems: [],
    run: EMPTY_RUN,
    notice: null,
    addingAfter: null,

    load(stored, catalog, shared) {
      binding?.destroy()
      binding = null
      const isText = textParams(catalog)
      const doc = shared ?? new Y.Doc()
      if (!shared) writeDocument(doc, drawn(stored.document), isText)
      const document = likeSaved(doc, stored.document)
      const graph = workflowToGraph(document)
      const base = { ...inOrderOfMap(readMeta(doc).fields, stored.document, metaOf(doc)), nodes: [], edges: [] }
      const keepRun = get().workflowId === stored.id ? get().run : EMPTY_RUN
      lastCheckpoint = { key: '', at: 0 }
      set({ addingAfter: null, catalog, workflowId: stored.id, version: stored.version, active: Boolean(stored.active), base, nodes: graph.nodes, edges: graph.edges, notes: graph.notes ?? [], canUndo: false, canRedo: false, problems: [], run: keepRun, saved: savedFingerprint(stored.document), revision: get().revision + 1 })
      get().refreshDirty()
      binding = bind(doc, store, isText)
      binding.setReadOnly(get().readOnly)
    },
    document() {
      const { base, nodes, edges, notes } = get()
      return graphToWorkflow(base, { nodes, edges, notes })
    },
    markSaved(stored) {
      set({ version: stored.version, active: Boolean(stored.active), saved: savedFingerprint(stored.document) })
      get().refreshDirty()
    },
    refreshDirty() {
      const dirty = fingerprint(get().document()) !== get().saved
      if (dirty !== get().dirty) set({ dirty })
    },
    sharedDocument() {
      return binding?.doc ?? null
    },
    setReadOnly(readOnly) {
      set({ readOnly })
      binding?.setReadOnly(readOnly)
    },
    setActive(active) {
      set({ active })
    },
    onNodesChange(changes) {
      const id = (change: NodeChange<FlowNode | NoteNode>) => (change.type === 'add' ? change.item.id : change.id)
      const forNotes = changes.filter((change) => isNoteId(id(change))) as NodeChange<NoteNode>[]
      const forNodes = changes.filter((change) => !isNoteId(id(change))) as NodeChange<FlowNode>[]
      const removing = changes.some((change) => change.type === 'remove')
      if (removing) checkpoint('delete')
      const moved = changes.some((change) => (change.type === 'position' && !change.dragging) || (change.type === 'dimensions' && change.resizing === false))
      const patch: Partial<EditorState> = {}
      if (forNodes.length) patch.nodes = applyNodeChanges(forNodes, get().nodes)
      if (forNotes.length) patch.notes = applyNodeChanges(forNotes, get().notes)
      const removesNodes = forNodes.some((change) => change.type === 'remove')
      if (removing) changed(patch, removesNodes)
      else if (moved) changed(patch, false)
      else set(patch)
    },
    onEdgesChange(changes) {
      const removing = changes.some((change) => change.type === 'remove')
      if (removing) checkpoint('delete')
      const edges = applyEdgeChanges(changes, get().edges)
      if (removing) changed({ edges })
      else set({ edges })
    },
    onDragStart() {
      checkpoint()
    },
    connect(connection) {
      const { nodes, edges, catalog } = get()
      const problem = connectionProblem(connection, nodes, edges, catalog)
      if (problem) return problem
      checkpoint()
      const sourceHandle = connection.sourceHandle || DEFAULT_OUTPUT
      const targetHandle = connection.targetHandle || DEFAULT_INPUT
      const edge = { ...connection, sourceHandle, targetHandle, id: edgeId(connection.source, sourceHandle, connection.target, targetHandle) }
      changed({ edges: addEdge(edge, edges) })
      return null
    },
    addNode(type, position, from, fromPort) {
      checkpoint()
      const { nodes, catalog } = get()
      const id = newNodeId(type, nodes.map((node) => node.id))
      const node: FlowNode = { id, type: 'tav', position, selected: true, data: { def: { id, type } } }
      changed({ nodes: [...deselected(nodes), node], notes: deselected(get().notes), addingAfter: null })
      if (from) {
        const source = nodes.find((n) => n.id === from)
        const targetType = catalog.get(type)
        if (source && inputPorts(targetType).length) {
          const ports = outputPorts(source.data.def, catalog.get(source.data.def.type))
          const port = fromPort && ports.includes(fromPort) ? fromPort : ports[0]
          const edge = { source: from, sourceHandle: port, target: id, targetHandle: inputPorts(targetType)[0] }
          if (port && !connectionProblem(edge, get().nodes, get().edges, catalog)) {
            set({ edges: addEdge({ ...edge, id: edgeId(from, port, id, edge.targetHandle) }, get().edges) })
          }
        }
      }
      return id
    },
    addAfter(after) {
      set({ addingAfter: after })
    },
    updateNode(id, update, key) {
      checkpoint(key ?? `node:${id}`)
      const nodes = get().nodes.map((node) => (node.id === id ? { ...node, data: { ...node.data, def: update(node.data.def) } } : node))
      changed({ nodes })
    },
    setPin(id, pin) {
      get().updateNode(
        id,
        (def) => {
          const { pin: _, ...rest } = def
          return pin ? { ...rest, pin } : rest
        },
        `pin:${id}`,
      )
    },
    addNote(position) {
      checkpoint()
      const { notes, nodes } = get()
      const id = newNoteId(notes.map((note) => note.id))
      const note: NoteNode = { id, type: 'note', zIndex: NOTE_Z, position, width: NOTE_SIZE.width, height: NOTE_SIZE.height, selected: true, data: { text: '', color: 'yellow' } }
      changed({ notes: [...deselected(notes), note], nodes: deselected(nodes) }, false)
      return id
    },
    updateNote(id, data) {
      checkpoint(`note:${id}:${Object.keys(data).join()}`)
      changed({ notes: get().notes.map((note) => (note.id === id ? { ...note, data: { ...note.data, ...data } } : note)) }, false)
    },
    rename(name) {
      checkpoint('rename')
      changed({ base: { ...get().base, name } })
    },
    updateBase(patch) {
      checkpoint(`base:${Object.keys(patch).join()}`)
      changed({ base: { ...get().base, ...patch } })
    },
    deleteSelected() {
      const { nodes, edges, notes } = get()
      const gone = new Set(nodes.filter((node) => node.selected).map((node) => node.id))
      const keptEdges = edges.filter((edge) => !edge.selected && !gone.has(edge.source) && !gone.has(edge.target))
      const keptNotes = notes.filter((note) => !note.selected)
      if (!gone.size && keptEdges.length === edges.length && keptNotes.length === notes.length) return
      checkpoint()
      changed({ nodes: nodes.filter((node) => !gone.has(node.id)), edges: keptEdges, notes: keptNotes })
    },
    selectAll() {
      set({ nodes: get().nodes.map((node) => ({ ...node, selected: true })), notes: get().notes.map((note) => ({ ...note, selected: true })) })
    },
    select(id) {
      set({
        nodes: get().nodes.map((node) => (node.selected === (node.id === id) ? node : { ...node, selected: node.id === id })),
        notes: get().notes.map((note) => (note.selected === (note.id === id) ? note : { ...note, selected: note.id === id })),
        edges: get().edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge)),
      })
    },
    copy() {
      const { base, nodes, edges, notes } = get()
      return copySelection(base.name, nodes, edges, notes)
    },
    paste(document, at) {
      const { nodes, edges, notes } = get()
      const pasted = pasteDocument(document, [...nodes, ...notes].map((item) => item.id), at)
      if (!pasted.nodes.length && !pasted.notes.length) return 0
      checkpoint()
      changed({
        nodes: [...deselected(nodes), ...pasted.nodes],
        edges: [...edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge)), ...pasted.edges],
        notes: [...deselected(notes), ...pasted.notes],
      })
      return pasted.nodes.length + pasted.notes.length
    },
    layout(size) {
      const { nodes, edges } = get()
      if (!nodes.length) return
      const links = edges.map((edge): [string, string] => [edge.source, edge.target])
      const positions = layeredLayout(
        nodes.map((node) => node.id),
        links,
        { size: (id) => size?.(id) },
      )
      // Anchored at the first node, so the drawing stays where the user was looking.
      const first = nodes[0]
      const anchor = positions.get(first.id)!
      const dx = first.position.x - anchor.x
      const dy = first.position.y - anchor.y
      checkpoint()
      changed({ nodes: nodes.map((node) => ({ ...node, position: { x: positions.get(node.id)!.x + dx, y: positions.get(node.id)!.y + dy } })) }, false)
    },
    undo() {
      lastCheckpoint = { key: '', at: 0 }
      binding?.undo()
    },
    redo() {
      lastCheckpoint = { key: '', at: 0 }
      binding?.redo()
    },
    setProblems(problems) {
      set({ problems })
    },
    notify(kind, text) {
      set({ notice: { kind, text, at: Date.now() } })
    },
    startRun(executionId) {
      set({ run: startedRun(executionId, get().nodes.map((node) => node.id)) })
    },
    showExecution(execution) {
      set({ run: openedRun(execution, get().nodes.map((node) => node.id)) })
    },
    applyEvent(event) {
      set((state) => ({ run: reduceRun(state.run, event) }))
    },
    setExecution(execution) {
      set((state) => {
        const run = withResults(state.run, execution)
        // Finished: the stream has nothing more to say, even if its last event is still on its way.
        if (!run.live || !FINISHED.includes(execution.status)) return { run }
        return { run: { ...run, live: false, status: execution.status, durationMs: execution.duration_ms } }
      })
    },
    clearRun() {
      set({ run: EMPTY_RUN })
    },
  }
}

export const useEditor = create<EditorState>()(editorState)

/** The draft `doc` holds with its nodes in the order of the saved version, and their keys
 * in the order the saved version has them, but for values the draft keeps in an order of
 * their own (../collab/model's inOrderOfMap). */
function likeSaved(doc: Y.Doc, saved: WorkflowDocument): WorkflowDocument {
  const draft = readDocument(doc)
  const known = new Map((saved.nodes ?? []).map((node, index) => [node.id, { node, index }]))
  const place = (id: string) => known.get(id)?.index ?? known.size
  const nodes = [...draft.nodes].sort((a, b) => place(a.id) - place(b.id)).map((node) => inOrderOfMap(node, known.get(node.id)?.node, nodesOf(doc).get(node.id)))
  return { ...draft, nodes }
}

/** A document as the editor draws it: positions filled in where it has none (laid out
 * left to right), notes as the editor keeps them. */
function drawn(document: WorkflowDocument): WorkflowDocument {
  return graphToWorkflow({ ...document, nodes: [], edges: [] }, workflowToGraph(document))
}

/** The fingerprint of a saved version, read the way the editor reads a document. */
function savedFingerprint(document: WorkflowDocument): string {
  return fingerprint(drawn(document))
}

/** Which params of each node type are long text (prompts, templates, code: the formats
 * the server reads the same way), shared as Y.Text so that typing merges character by
 * character. */
function textParams(catalog: Catalog): IsText {
  const known = new Map<string, Set<string>>()
  return (type, param) => {
    let keys = known.get(type)
    if (!keys) {
      const schema = catalog.get(type)?.params_schema
      keys = new Set(schema ? fieldsFromSchema(schema).filter((field) => field.kind === 'text' && LONG_TEXT_FORMATS.has(field.format ?? '')).map((field) => field.key) : [])
      known.set(type, keys)
    }
    return keys.has(param)
  }
}
