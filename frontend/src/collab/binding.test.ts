// Two people editing one workflow: two editor stores, each bound to its own Y.Doc, the docs
// syncing in memory the way the server relays them (and cut apart to be "offline").
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createStore, type StoreApi } from 'zustand/vanilla'
import type { Catalog, NodeType } from '../api/types'
import { editorState, type EditorState } from '../editor/store'
import { catalog as baseCatalog, storedWorkflow } from '../lib/fixtures'
import { onSharedText } from './binding'
import { nodesOf, readDocument, writeDocument } from './model'
import { moveCaret, type Delta } from './text'

const chat: NodeType = {
  ...baseCatalog.get('core.set')!,
  type: 'ai.llm_chat',
  params_schema: { type: 'object', properties: { prompt: { type: 'string', format: 'multiline' }, model: { type: 'string' } } },
}
const catalog: Catalog = new Map([...baseCatalog, [chat.type, chat]])

const stored = storedWorkflow({
  nodes: [
    { id: 'start', type: 'trigger.manual' },
    { id: 'chat', type: 'ai.llm_chat', params: { prompt: 'Hello', model: 'small' } },
    { id: 'set', type: 'core.set', params: { values: { a: 1 } } },
  ],
  edges: [
    { from: 'start', to: 'chat' },
    { from: 'chat', to: 'set' },
  ],
  ui: { positions: { start: [0, 0], chat: [300, 0], set: [600, 0] } },
})

/** Relays the updates of two docs to each other, as the server's room does; `offline`
 * holds them back until `online`. */
function relay(a: Y.Doc, b: Y.Doc) {
  const link = {} // the origin of what came over this link, not sent back over it
  const held: [Y.Doc, Uint8Array][] = []
  let connected = true
  const forward = (to: Y.Doc) => (update: Uint8Array, origin: unknown) => {
    if (origin === link) return
    if (connected) Y.applyUpdate(to, update, link)
    else held.push([to, update])
  }
  a.on('update', forward(b))
  b.on('update', forward(a))
  return {
    offline: () => (connected = false),
    online: () => {
      connected = true
      for (const [to, update] of held.splice(0)) Y.applyUpdate(to, update, link)
    },
  }
}

let server: Y.Doc
let alice: StoreApi<EditorState>
let bob: StoreApi<EditorState>
let links: ReturnType<typeof relay>[]

/** A person opening the workflow: a doc synced from the room, a store bound to it. */
function join(): StoreApi<EditorState> {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(server))
  links.push(relay(server, doc))
  const store = createStore<EditorState>()(editorState)
  store.getState().load(stored, catalog, doc)
  return store
}

const def = (store: StoreApi<EditorState>, id: string) => store.getState().nodes.find((node) => node.id === id)?.data.def
const setParam = (store: StoreApi<EditorState>, id: string, key: string, value: unknown) =>
  store.getState().updateNode(id, (d) => ({ ...d, params: { ...d.params, [key]: value } }), `param:${key}:${id}`)
const offline = () => links.forEach((link) => link.offline())
const online = () => links.forEach((link) => link.online())

beforeEach(() => {
  server = new Y.Doc()
  writeDocument(server, stored.document, (type, param) => type === 'ai.llm_chat' && param === 'prompt')
  links = []
  alice = join()
  bob = join()
})

describe('two people editing one workflow', () => {
  it('shows a node one adds and wires to the other', () => {
    alice.getState().addNode('core.set', { x: 900, y: 0 }, 'set')
    expect(bob.getState().nodes.map((node) => node.id)).toEqual(['start', 'chat', 'set', 'set_2'])
    expect(bob.getState().document().edges).toContainEqual({ from: 'set', to: 'set_2' })
    expect(bob.getState().nodes.find((node) => node.id === 'set_2')?.position).toEqual({ x: 900, y: 0 })
    expect(readDocument(server).nodes.map((node) => node.id)).toContain('set_2')
  })

  it('keeps both of two edits made at once to different nodes', () => {
    offline()
    setParam(alice, 'chat', 'model', 'large')
    setParam(bob, 'set', 'values', { b: 2 })
    bob.getState().onNodesChange([{ type: 'position', id: 'start', position: { x: 10, y: 20 }, dragging: false }])
    online()
    for (const store of [alice, bob]) {
      expect(def(store, 'chat')?.params).toEqual({ prompt: 'Hello', model: 'large' })
      expect(def(store, 'set')?.params).toEqual({ values: { b: 2 } })
      expect(store.getState().nodes[0].position).toEqual({ x: 10, y: 20 })
    }
    expect(alice.getState().document()).toEqual(bob.getState().document())
  })

  it('merges two people typing into the same prompt character by character', () => {
    offline()
    setParam(alice, 'chat', 'prompt', 'Hello world')
    setParam(bob, 'chat', 'prompt', 'Oh, Hello')
    online()
    expect(def(alice, 'chat')?.params?.prompt).toBe('Oh, Hello world')
    expect(def(bob, 'chat')?.params?.prompt).toBe('Oh, Hello world')
  })

  it('removes a node one person deletes while the other edits it, and its edges', () => {
    offline()
    bob.getState().select('set')
    setParam(bob, 'set', 'values', { edited: true })
    alice.getState().select('set')
    alice.getState().deleteSelected()
    online()
    for (const store of [alice, bob]) {
      expect(store.getState().nodes.map((node) => node.id)).toEqual(['start', 'chat'])
      expect(store.getState().document().edges).toEqual([{ from: 'start', to: 'chat' }])
    }
    expect(readDocument(server).edges).toEqual([{ from: 'start', to: 'chat' }])
  })

  it('hides and drops an edge drawn to a node someone removed at the same time', () => {
    offline()
    alice.getState().connect({ source: 'start', sourceHandle: 'output', target: 'set', targetHandle: 'input' })
    bob.getState().select('set')
    bob.getState().deleteSelected()
    online()
    for (const store of [alice, bob]) expect(store.getState().edges.map((edge) => edge.id)).toEqual(['start:output->chat:input'])
    expect(readDocument(server).edges).toEqual([{ from: 'start', to: 'chat' }])
  })

  it("keeps a person's selection and the nodes the other did not touch", () => {
    alice.getState().select('chat')
    const untouched = alice.getState().nodes.find((node) => node.id === 'start')
    setParam(bob, 'chat', 'model', 'large')
    bob.getState().rename('Renamed')
    const chatNode = alice.getState().nodes.find((node) => node.id === 'chat')
    expect(chatNode?.selected).toBe(true)
    expect(chatNode?.data.def.params?.model).toBe('large')
    expect(alice.getState().nodes.find((node) => node.id === 'start')).toBe(untouched)
    expect(alice.getState().base.name).toBe('Renamed')
  })

  it("undoes one's own change only, never the other's", () => {
    alice.getState().rename('Alice was here')
    setParam(bob, 'chat', 'model', 'large')
    alice.getState().undo()
    for (const store of [alice, bob]) {
      expect(store.getState().base.name).toBe('w')
      expect(def(store, 'chat')?.params?.model).toBe('large')
    }
    expect(alice.getState().canUndo).toBe(false)
    expect(alice.getState().canRedo).toBe(true)
    expect(bob.getState().canUndo).toBe(true)
    alice.getState().redo()
    expect(bob.getState().base.name).toBe('Alice was here')
  })

  it("does not take back someone else's later change of the same field", () => {
    setParam(alice, 'chat', 'model', 'large')
    setParam(bob, 'chat', 'model', 'huge')
    alice.getState().undo()
    expect(def(alice, 'chat')?.params?.model).toBe('huge')
    expect(def(bob, 'chat')?.params?.model).toBe('huge')
  })

  it('converges after one edits offline', () => {
    links[1].offline()
    bob.getState().addNode('core.set', { x: 0, y: 300 })
    bob.getState().rename('Offline rename')
    setParam(alice, 'chat', 'prompt', 'Hello there')
    expect(alice.getState().nodes).toHaveLength(3)
    links[1].online()
    expect(alice.getState().document()).toEqual(bob.getState().document())
    expect(alice.getState().nodes.map((node) => node.id)).toContain('set_2')
    expect(def(bob, 'chat')?.params?.prompt).toBe('Hello there')
  })

  it('tells whether the draft differs from the version saved last, whoever changed it', () => {
    expect(alice.getState().dirty).toBe(false)
    bob.getState().rename('Changed')
    expect(alice.getState().dirty).toBe(true)
    bob.getState().undo()
    expect(alice.getState().dirty).toBe(false)
    bob.getState().rename('Saved')
    alice.getState().markSaved({ ...stored, version: 2, document: bob.getState().document() })
    expect(alice.getState().dirty).toBe(false)
    expect(alice.getState().version).toBe(2)
  })

  it("shows the rows of an object param in the order the other put them, and keeps it", () => {
    const keys = (store: StoreApi<EditorState>) => Object.keys(def(store, 'set')?.params?.values as object)
    setParam(bob, 'set', 'values', { b: 2, a: 1 })
    expect(keys(alice)).toEqual(['b', 'a'])
    setParam(bob, 'set', 'values', { a: 1, b: 2 }) // moved up, nothing else changed
    expect(keys(alice)).toEqual(['a', 'b'])
    setParam(alice, 'set', 'mode', 'replace') // another param of the node
    expect(keys(bob)).toEqual(['a', 'b'])
    expect(Object.keys(readDocument(server).nodes[2].params!.values as object)).toEqual(['a', 'b'])
    expect((nodesOf(server).get('set')!.get('params') as Y.Map<unknown>).get('values')).toEqual({ $json: '{"a":1,"b":2}' })
  })

  it('opens a draft written before objects were JSON text, in the order of the saved version', () => {
    const params = nodesOf(server).get('set')!.get('params') as Y.Map<unknown>
    const saved = { ...stored, document: { ...stored.document, nodes: stored.document.nodes.map((node) => (node.id === 'set' ? { ...node, params: { values: { a: 1, z: 2 } } } : node)) } }
    params.set('values', { z: 2, a: 1 }) // as the server's Yjs gave them
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(server))
    const store = createStore<EditorState>()(editorState)
    store.getState().load(saved, catalog, doc)
    expect(Object.keys(def(store, 'set')?.params?.values as object)).toEqual(['a', 'z'])
    expect(store.getState().dirty).toBe(false)
  })

  it('puts back what a viewer changes instead of sharing it', () => {
    alice.getState().setReadOnly(true)
    alice.getState().rename('Not allowed')
    alice.getState().select('chat')
    alice.getState().deleteSelected()
    expect(alice.getState().base.name).toBe('w')
    expect(alice.getState().nodes.map((node) => node.id)).toEqual(['start', 'chat', 'set'])
    expect(bob.getState().base.name).toBe('w')
    expect(Y.encodeStateVector(server)).toEqual(Y.encodeStateVector(bob.getState().sharedDocument()!))
  })
})

describe('shared text', () => {
  let changes: [string, string, Delta][]
  let stop: () => void
  beforeEach(() => {
    changes = []
    stop = onSharedText((node, param, delta) => changes.push([node, param, delta]))
  })
  afterEach(() => stop())

  it('is written as the characters that changed, and told to the inputs of the others', () => {
    const text = nodesOf(server).get('chat')!.get('params') as Y.Map<unknown>
    expect(text.get('prompt')).toBeInstanceOf(Y.Text)
    setParam(alice, 'chat', 'prompt', 'Hello, world')
    // Bob's input hears of it (Alice's does not: it made the change).
    expect(changes).toEqual([['chat', 'prompt', [{ retain: 5 }, { insert: ', world' }]]])
    // A caret after "Hello" stays before what was typed at it; one at the end moves on.
    expect(moveCaret(5, changes[0][2])).toBe(5)
    expect(moveCaret(2, [{ insert: 'Oh, ' }])).toBe(6)
    expect(moveCaret(4, [{ retain: 1 }, { delete: 2 }])).toBe(2)
  })

  it('is created for a long text param set for the first time', () => {
    alice.getState().addNode('ai.llm_chat', { x: 0, y: 300 })
    setParam(alice, 'llm_chat', 'prompt', 'Summarize')
    const params = nodesOf(server).get('llm_chat')!.get('params') as Y.Map<unknown>
    expect(params.get('prompt')).toBeInstanceOf(Y.Text)
    expect(def(bob, 'llm_chat')?.params?.prompt).toBe('Summarize')
  })
})
