// The workflow as a shared Yjs document (docs/guide/collaboration.md), read and written in
// the parts the editor holds. The document has three top-level maps:
//
//   nodes  node id -> Y.Map { type, params: Y.Map, position: [x, y], name, retry, ... }
//   edges  edge id -> Y.Map { from, to }                 (ends as in the workflow format)
//   meta   name, description, vars, settings, notes, ui (the rest of the editor's data) ...
//
// Long text params (prompts, templates, code) are Y.Text, so that two people typing into
// one merge character by character; every other value is a JSON value, replaced whole, so
// that two people changing two params (two keys of a map) both win. An object or an array
// is kept as its JSON text in a one-key wrapper, { $json: '<JSON text>' } (`shared`), read
// back by `plain`: the server's Yjs (yrs, under pycrdt) decodes an object held as a plain
// value into a hash map, which loses the order of its keys, and that order is what people
// see (a key-value param's rows, the fields of an input form). The wrapper is used for
// every object and array, so it is never mistaken for a value; only a node's position
// ([x, y]) stays a plain array. Drafts written before it hold plain objects: they read back
// as they are (in the order the server gave them; `inOrderOfMap` puts them back in the order
// the person saw) and are wrapped when next written. src/tav/collab/ydoc.py does the same.
// Writing compares with what the document holds and changes only what differs, so that a
// change to one param of one node is a change of that param alone.
import * as Y from 'yjs'
import type { EdgeDef, NodeDef, WorkflowDocument, WorkflowUi } from '../api/types'
import { DEFAULT_INPUT, DEFAULT_OUTPUT, edgeId, parseEnd, type StoredNote } from '../lib/graph'
import { applyText } from './text'

export type YNode = Y.Map<unknown>

/** Whether a param of a node type is long text, shared as Y.Text. */
export type IsText = (nodeType: string, param: string) => boolean

/** The node fields kept elsewhere than in NodeDef's own keys. */
const NODE_OWN = new Set(['id', 'params', 'position'])
/** The document fields that are not in `meta` (`ui` is, but for its positions). */
const NOT_META = new Set(['nodes', 'edges', 'ui'])

export const nodesOf = (doc: Y.Doc) => doc.getMap<YNode>('nodes')
export const edgesOf = (doc: Y.Doc) => doc.getMap<Y.Map<unknown>>('edges')
export const metaOf = (doc: Y.Doc) => doc.getMap<unknown>('meta')

/** The one key of the wrapper an object or an array is kept in. */
export const JSON_KEY = '$json'

/** A JSON value as the document keeps it: an object or an array as its JSON text in a
 * { $json } wrapper, so that the order of its keys survives the server; a scalar as it is. */
export function shared(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? { [JSON_KEY]: JSON.stringify(value) } : value
}

/** A value as JSON: shared text as its string, shared maps and arrays as their content, a
 * { $json } wrapper as the value it holds (only a value the document or one of its shared
 * types holds: inside a plain value, it is data). */
export function plain(value: unknown): unknown {
  if (value instanceof Y.Text) return value.toString()
  if (value instanceof Y.Map) return Object.fromEntries([...value.entries()].map(([key, item]) => [key, plain(item)]))
  if (value instanceof Y.Array) return value.toArray().map(plain)
  if (value instanceof Y.AbstractType) return value.toJSON()
  return unwrapped(value)
}

function unwrapped(value: unknown): unknown {
  if (!isWrapped(value)) return value
  try {
    return JSON.parse(value[JSON_KEY])
  } catch {
    return value // not a wrapper after all: a client's object, read as it is
  }
}

function isWrapped(value: unknown): value is { [JSON_KEY]: string } {
  return isObject(value) && typeof value[JSON_KEY] === 'string' && Object.keys(value).length === 1
}

/** A node's definition and position as the document holds them. */
export function readNode(id: string, node: YNode): { def: NodeDef; position: [number, number] | null } {
  const def: Record<string, unknown> = { id }
  for (const [key, value] of node.entries()) {
    if (!NODE_OWN.has(key) && value !== undefined && value !== null) def[key] = plain(value)
  }
  const params = node.get('params')
  if (params instanceof Y.Map && params.size) {
    def.params = Object.fromEntries([...params.entries()].map(([key, value]) => [key, plain(value)]))
  }
  return { def: def as unknown as NodeDef, position: position(node.get('position')) }
}

function position(value: unknown): [number, number] | null {
  const pair = plain(value)
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === 'number' && Number.isFinite(v))) return null
  return [pair[0], pair[1]]
}

/** Writes a node's definition and position into its map, where they differ. */
export function writeNode(node: YNode, def: NodeDef, at: [number, number], isText: IsText): void {
  const fields = def as unknown as Record<string, unknown>
  for (const key of [...node.keys()]) {
    if (!NODE_OWN.has(key) && fields[key] === undefined) node.delete(key)
  }
  for (const [key, value] of Object.entries(fields)) {
    if (!NODE_OWN.has(key) && value !== undefined && !sameJson(plain(node.get(key)), value)) node.set(key, shared(value))
  }
  let params = node.get('params')
  if (def.params !== undefined || params !== undefined) {
    if (!(params instanceof Y.Map)) node.set('params', (params = new Y.Map()))
    writeParams(params as Y.Map<unknown>, def.params ?? {}, (key) => isText(def.type, key))
  }
  const current = position(node.get('position'))
  if (!current || current[0] !== at[0] || current[1] !== at[1]) node.set('position', at)
}

function writeParams(params: Y.Map<unknown>, next: Record<string, unknown>, isText: (key: string) => boolean): void {
  for (const key of [...params.keys()]) if (next[key] === undefined) params.delete(key)
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined) continue
    const current = params.get(key)
    if (current instanceof Y.Text && typeof value === 'string') applyText(current, value)
    else if (typeof value === 'string' && isText(key) && !(current instanceof Y.Text)) params.set(key, new Y.Text(value))
    else if (!sameJson(plain(current), value)) params.set(key, shared(value))
  }
}

/** Puts a node into the document (inside the caller's transaction). */
export function addNode(doc: Y.Doc, def: NodeDef, at: [number, number], isText: IsText): void {
  const node = new Y.Map<unknown>()
  nodesOf(doc).set(def.id, node)
  writeNode(node, def, at, isText)
}

export function readEdge(edge: Y.Map<unknown> | undefined): EdgeDef | null {
  const from = edge?.get('from')
  const to = edge?.get('to')
  return typeof from === 'string' && typeof to === 'string' ? { from, to } : null
}

/** The key an edge is kept under: the editor's id of it, so that two people drawing the
 * same edge at once make one. */
export function edgeKey(edge: EdgeDef): string {
  const [source, sourcePort] = parseEnd(edge.from, DEFAULT_OUTPUT)
  const [target, targetPort] = parseEnd(edge.to, DEFAULT_INPUT)
  return edgeId(source, sourcePort, target, targetPort)
}

export function addEdge(doc: Y.Doc, edge: EdgeDef): void {
  const map = new Y.Map<unknown>()
  edgesOf(doc).set(edgeKey(edge), map)
  map.set('from', edge.from)
  map.set('to', edge.to)
}

/** The document's own fields (name, description, vars, ...) with its `ui` but for the
 * positions, which are the nodes'. */
export function readMeta(doc: Y.Doc): { fields: Omit<WorkflowDocument, 'nodes' | 'edges'>; notes: StoredNote[] } {
  const fields: Record<string, unknown> = { schema: 1, name: '' }
  let ui: WorkflowUi = {}
  let notes: StoredNote[] = []
  for (const [key, value] of metaOf(doc).entries()) {
    if (key === 'ui') ui = { ...(plain(value) as WorkflowUi) }
    else if (key === 'notes') notes = Array.isArray(plain(value)) ? (plain(value) as StoredNote[]) : []
    else if (value !== undefined && value !== null && !NOT_META.has(key)) fields[key] = plain(value)
  }
  delete ui.positions
  delete ui.notes
  if (Object.keys(ui).length) fields.ui = ui
  return { fields: fields as Omit<WorkflowDocument, 'nodes' | 'edges'>, notes }
}

/** Writes the document's own fields and its notes into `meta`, where they differ. */
export function writeMeta(doc: Y.Doc, document: Omit<WorkflowDocument, 'nodes' | 'edges'>, notes: StoredNote[]): void {
  const meta = metaOf(doc)
  const { positions: _, notes: __, ...ui } = document.ui ?? {}
  const next: Record<string, unknown> = { ...document, ui: Object.keys(ui).length ? ui : undefined, notes: notes.length ? notes : undefined }
  for (const key of NOT_META) if (key !== 'ui') delete next[key]
  for (const key of [...meta.keys()]) if (next[key] === undefined || next[key] === null) meta.delete(key)
  for (const [key, value] of Object.entries(next)) {
    if (value !== undefined && value !== null && !sameJson(plain(meta.get(key)), value)) meta.set(key, shared(value))
  }
}

/** The whole document, as the workflow format has it. */
export function readDocument(doc: Y.Doc): WorkflowDocument {
  const positions: Record<string, [number, number]> = {}
  const nodes: NodeDef[] = []
  for (const [id, node] of nodesOf(doc).entries()) {
    const { def, position } = readNode(id, node)
    nodes.push(def)
    if (position) positions[id] = position
  }
  const edges = [...edgesOf(doc).values()].map(readEdge).filter((edge): edge is EdgeDef => edge !== null)
  const { fields, notes } = readMeta(doc)
  const ui: WorkflowUi = { ...fields.ui, positions }
  if (notes.length) ui.notes = notes
  return { ...fields, nodes, edges, ui }
}

/** Fills an empty document with a workflow (one transaction, from `origin`). */
export function writeDocument(doc: Y.Doc, document: WorkflowDocument, isText: IsText, origin: unknown = null): void {
  const positions = document.ui?.positions ?? {}
  doc.transact(() => {
    for (const def of document.nodes) addNode(doc, def, positions[def.id] ?? [0, 0], isText)
    for (const edge of document.edges) addEdge(doc, edge)
    const notes = Array.isArray(document.ui?.notes) ? (document.ui.notes as StoredNote[]) : []
    const { nodes: _, edges: __, ...rest } = document
    writeMeta(doc, rest, notes)
  }, origin)
}

/** Whether two JSON values are equal, the order of an object's keys included (the rows
 * of a key-value param are in the order they were written). */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}

/** A document as one string that is the same for the same workflow, whatever the order
 * of its nodes, edges, fields (the document's, a node's, its params, `ui`'s) and whichever
 * way its optional fields are left empty: the draft and the saved version are compared by
 * it. The order of the keys of a value (the rows of a key-value param, the properties of
 * the input schema) counts: it is the person's, kept by the draft and the saved version. */
export function fingerprint(document: WorkflowDocument): string {
  const positions = document.ui?.positions ?? {}
  const nodes = [...document.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((node) => nodeKey(node, positions[node.id]))
  const { nodes: _, edges: __, ...fields } = document
  const { positions: ___, ...ui } = document.ui ?? {}
  return JSON.stringify([byName({ ...fields, ui }, (key, value) => normal(value, key === 'ui')), nodes, document.edges.map(edgeKey).sort()])
}

// A node's part of the fingerprint, kept while its definition (the same object: the store
// replaces only the nodes that change) and its place stay: a change of one node of a
// large workflow is then compared in a fraction of a millisecond, not several.
const nodeKeys = new WeakMap<NodeDef, { at: string; key: string }>()

function nodeKey(node: NodeDef, position: [number, number] | undefined): string {
  const at = position ? `${Math.round(position[0])},${Math.round(position[1])}` : ''
  const known = nodeKeys.get(node)
  if (known?.at === at) return known.key
  const key = JSON.stringify(byName({ ...node, position: at }, (field, value) => (field === 'params' && isObject(value) ? byName(value, (_, param) => normal(param, false)) : normal(value, false))))
  nodeKeys.set(node, { at, key })
  return key
}

/** The fields of an object as a list sorted by name, each value made by `value`, without
 * empty ones. */
function byName(fields: Record<string, unknown>, value: (key: string, item: unknown) => unknown): [string, unknown][] {
  return nonEmpty(Object.entries(fields).map(([key, item]) => [key, value(key, item)])).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** JSON without empty optional values (null, an empty string, object or list), the keys of
 * its objects sorted (`sort`) or in their order. */
function normal(value: unknown, sort: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => normal(item, sort))
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(sort ? byName(value as Record<string, unknown>, (_, item) => normal(item, true)) : nonEmpty(Object.entries(value).map(([key, item]) => [key, normal(item, false)])))
}

function nonEmpty(entries: [string, unknown][]): [string, unknown][] {
  return entries.filter(([, item]) => !isEmpty(item))
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && Object.keys(value).length === 0
}

/** `value` with the keys of its objects in the order `like` has them (those it lacks after,
 * as they come), all the way down. The keys of a Y.Map (a node's params) come in no
 * lasting order, nor do those of an object in a draft written before objects were kept as
 * JSON text (the server's Yjs, pycrdt, does not keep their order), which a key-value param
 * shows as its rows: read back in the order the person last saw, they stay where they were. */
export function inOrderOf<T>(value: T, like: unknown): T {
  if (Array.isArray(value)) return (Array.isArray(like) ? value.map((item, index) => inOrderOf(item, like[index])) : value) as T
  if (!isObject(value) || !isObject(like)) return value
  const keys = [...Object.keys(like).filter((key) => key in value), ...Object.keys(value).filter((key) => !(key in like))]
  if (keys.every((key, index) => key === Object.keys(value)[index]) && keys.every((key) => !isObject(value[key]) && !Array.isArray(value[key]))) return value
  return Object.fromEntries(keys.map((key) => [key, inOrderOf(value[key], like[key])])) as T
}

/** `value`, read from the shared `map`, with its keys in the order `like` has them (those
 * it lacks after): the keys of a Y.Map (a node's fields and params, `meta`) come in no
 * lasting order. A value kept as JSON text keeps its own order, that of whoever wrote it
 * last (someone may have reordered it since `like`); a shared map inside is put in order
 * the same way; a plain object (a draft written before JSON text, whose keys the server
 * gave in any order) takes the order of `like` all the way down, as `inOrderOf` does. */
export function inOrderOfMap<T>(value: T, like: unknown, map: Y.Map<unknown> | undefined): T {
  if (!isObject(value) || !isObject(like)) return value
  const keys = [...Object.keys(like).filter((key) => key in value), ...Object.keys(value).filter((key) => !(key in like))]
  const ordered = keys.map((key): [string, unknown] => {
    const raw = map?.get(key)
    if (raw instanceof Y.Map) return [key, inOrderOfMap(value[key], like[key], raw)]
    if (raw instanceof Y.AbstractType || isWrapped(raw)) return [key, value[key]]
    return [key, inOrderOf(value[key], like[key])]
  })
  return Object.fromEntries(ordered) as T
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
