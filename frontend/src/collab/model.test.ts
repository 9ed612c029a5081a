import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { NodeDef, WorkflowDocument } from '../api/types'
import { fingerprint, inOrderOf, metaOf, nodesOf, readDocument, writeDocument, writeNode } from './model'

const document: WorkflowDocument = {
  schema: 1,
  name: 'Branches',
  description: 'kept',
  vars: { limit: 3 },
  input_schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
  mcp: { name: 'summarize' },
  nodes: [
    { id: 'start', type: 'trigger.manual' },
    { id: 'ask', type: 'ai.llm_chat', params: { prompt: 'Summarize {{ trigger.text }}', temperature: 0.2 }, retry: { max_attempts: 2 } },
  ],
  edges: [{ from: 'start', to: 'ask:input' }],
  ui: { positions: { start: [0, 0], ask: [280, 0] }, notes: [{ id: 'note-1', text: 'Why', position: [0, 200], size: [220, 120], color: 'blue' }], colors: 'kept' },
}
const isText = (type: string, param: string) => type === 'ai.llm_chat' && param === 'prompt'

describe('the shared document', () => {
  it('holds a workflow as nodes, edges and meta, and gives it back unchanged', () => {
    const doc = new Y.Doc()
    writeDocument(doc, document, isText)
    const params = nodesOf(doc).get('ask')!.get('params') as Y.Map<unknown>
    expect(params.get('prompt')).toBeInstanceOf(Y.Text)
    expect(params.get('temperature')).toBe(0.2)
    expect(nodesOf(doc).get('ask')!.get('position')).toEqual([280, 0])
    expect(readDocument(doc)).toEqual(document)
  })

  it('reaches another doc through its updates', () => {
    const doc = new Y.Doc()
    writeDocument(doc, document, isText)
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
    expect(readDocument(other)).toEqual(document)
  })
})

describe('the fingerprint of a document', () => {
  it('is the same whatever the order of nodes, edges and fields, or empty optional values', () => {
    const reordered: WorkflowDocument = {
      ui: { colors: 'kept', notes: document.ui!.notes, positions: { ask: [280, 0], start: [0, 0] } },
      edges: [{ from: 'start:output', to: 'ask' }],
      nodes: [{ ...document.nodes[1] }, { id: 'start', type: 'trigger.manual', params: {}, name: null }],
      vars: { limit: 3 },
      mcp: { name: 'summarize' },
      input_schema: document.input_schema,
      description: 'kept',
      name: 'Branches',
      schema: 1,
    }
    expect(fingerprint(reordered)).toBe(fingerprint(document))
  })

  it('differs when only the keys of a value are in another order: the rows of a key-value param, the fields of the input form', () => {
    const set = (values: Record<string, unknown>): WorkflowDocument => ({ ...document, nodes: [...document.nodes, { id: 'set', type: 'core.set', params: { values, mode: 'merge' } }] })
    expect(fingerprint(set({ b: 1, a: 2 }))).not.toBe(fingerprint(set({ a: 2, b: 1 })))
    expect(fingerprint(set({ b: 1, a: 2 }))).toBe(fingerprint(set({ b: 1, a: 2 })))
    const reversed = { ...document, input_schema: { type: 'object', properties: { b: { type: 'string' }, a: { type: 'string' } } } }
    const forward = { ...document, input_schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } } }
    expect(fingerprint(reversed)).not.toBe(fingerprint(forward))
    // The params of a node are fields, in no order.
    const params = (ask: NodeDef) => ({ ...document, nodes: [document.nodes[0], ask] })
    const ask = document.nodes[1]
    expect(fingerprint(params({ ...ask, params: { temperature: 0.2, prompt: ask.params!.prompt } }))).toBe(fingerprint(document))
  })

  it('differs for any change of a value', () => {
    const moved = { ...document, ui: { ...document.ui, positions: { start: [0, 10] as [number, number], ask: [280, 0] as [number, number] } } }
    expect(fingerprint(moved)).not.toBe(fingerprint(document))
    expect(fingerprint({ ...document, name: 'Other' })).not.toBe(fingerprint(document))
    expect(fingerprint({ ...document, mcp: { name: 'other' } })).not.toBe(fingerprint(document))
  })
})

describe('values read back from the server', () => {
  it('take the order of the keys the person saw, new keys after', () => {
    const scrambled = { total: 4, tags: ['x'], who: { last: 'L', first: 'F' } }
    const seen = { who: { first: 'A', last: 'B' }, total: 3 }
    const ordered = inOrderOf(scrambled, seen)
    expect(Object.keys(ordered)).toEqual(['who', 'total', 'tags'])
    expect(Object.keys(ordered.who)).toEqual(['first', 'last'])
    expect(ordered).toEqual(scrambled)
    expect(inOrderOf([{ b: 1, a: 2 }], [{ a: 0, b: 0 }]).map(Object.keys)).toEqual([['a', 'b']])
    expect(inOrderOf('text', { a: 1 })).toBe('text')
  })
})

describe('objects and arrays in the document', () => {
  const order = ['who', 'total', 'tags', 'zeta', 'alpha', 'mid', 'omega', 'beta']
  const values = Object.fromEntries(order.map((key, index) => [key, index]))
  const ordered: WorkflowDocument = {
    ...document,
    input_schema: { type: 'object', properties: Object.fromEntries(order.map((key) => [key, { type: 'string' }])) },
    nodes: [...document.nodes, { id: 'set', type: 'core.set', params: { values, keep: true }, pin: { output: values } }],
    ui: { ...document.ui, positions: { ...document.ui!.positions, set: [560, 0] } },
  }
  const params = (doc: Y.Doc, id: string) => nodesOf(doc).get(id)!.get('params') as Y.Map<unknown>

  it('are kept as their JSON text, so that their keys keep their order on the server; the rest as it is', () => {
    const doc = new Y.Doc()
    writeDocument(doc, ordered, isText)
    expect(params(doc, 'set').get('values')).toEqual({ $json: JSON.stringify(values) })
    expect(params(doc, 'set').get('keep')).toBe(true)
    expect(params(doc, 'ask').get('prompt')).toBeInstanceOf(Y.Text)
    expect(nodesOf(doc).get('ask')!.get('retry')).toEqual({ $json: '{"max_attempts":2}' })
    expect(nodesOf(doc).get('set')!.get('pin')).toEqual({ $json: JSON.stringify({ output: values }) })
    expect(nodesOf(doc).get('ask')!.get('position')).toEqual([280, 0])
    for (const key of ['input_schema', 'vars', 'mcp', 'notes', 'ui']) expect(Object.keys(metaOf(doc).get(key) as object)).toEqual(['$json'])
    expect(metaOf(doc).get('name')).toBe('Branches')
    expect(readDocument(doc)).toEqual(ordered)
  })

  it('read back as themselves when they look like the wrapper', () => {
    const lookalike = { $json: '{"b":1,"a":2}' }
    const doc = new Y.Doc()
    writeDocument(doc, { ...ordered, vars: lookalike, nodes: [{ id: 'set', type: 'core.set', params: { values: { $json: '[1]' } } }] }, isText)
    expect(readDocument(doc).vars).toEqual(lookalike)
    expect(readDocument(doc).nodes[0].params).toEqual({ values: { $json: '[1]' } })
    params(doc, 'set').set('values', { $json: 'not JSON {' }) // a client's own object
    expect(readDocument(doc).nodes[0].params).toEqual({ values: { $json: 'not JSON {' } })
  })

  it('written as plain values before JSON text still read back, and are wrapped when next written', () => {
    const doc = new Y.Doc()
    writeDocument(doc, ordered, isText)
    doc.transact(() => {
      params(doc, 'set').set('values', { total: 1, who: 0 })
      metaOf(doc).set('vars', { limit: 3 })
      nodesOf(doc).get('ask')!.set('position', new Y.Array<number>())
      ;(nodesOf(doc).get('ask')!.get('position') as Y.Array<number>).push([280, 0])
    })
    const read = readDocument(doc)
    expect(read.nodes[2].params).toEqual({ values: { total: 1, who: 0 }, keep: true })
    expect(read.vars).toEqual({ limit: 3 })
    expect(read.ui?.positions?.ask).toEqual([280, 0])
    const set = read.nodes[2]
    writeNode(nodesOf(doc).get('set')!, { ...set, params: { ...set.params, values: { who: 0, total: 1 } } }, [0, 0], isText)
    expect(params(doc, 'set').get('values')).toEqual({ $json: '{"who":0,"total":1}' })
  })
})

describe('a document written here and read by the server, and the other way', () => {
  // The server's own Yjs (pycrdt) and reader (tav.collab.ydoc), in the project's Python.
  const python = new URL('../../../.venv/bin/python', import.meta.url).pathname
  const script = `
import base64, json, sys
from pycrdt import Doc
from tav.collab.ydoc import new_doc, read_document
given = json.load(sys.stdin)
doc = Doc()
doc.apply_update(base64.b64decode(given["update"]))
written = new_doc(given["document"])
print(json.dumps({"read": read_document(doc, like=given["document"]), "update": base64.b64encode(written.get_update()).decode()}))
`
  type Spawned = { status: number | null; stdout: string; stderr: string; error?: Error }
  type Node = { spawnSync(command: string, args: string[], options: { input: string; encoding: 'utf8' }): Spawned }

  it('keeps the order of every object', async () => {
    // Node's own module, by a name TypeScript does not resolve: the editor's types leave Node out.
    const { spawnSync } = (await import(/* @vite-ignore */ 'node:child_process' as string)) as Node
    const order = ['who', 'total', 'tags', 'zeta', 'alpha', 'mid', 'omega', 'beta']
    const values = Object.fromEntries(order.map((key, index) => [key, index]))
    const properties = Object.fromEntries([...order].reverse().map((key) => [key, { type: 'string', title: key }]))
    const ordered: WorkflowDocument = {
      ...document,
      input_schema: { type: 'object', properties },
      vars: { ...values, nested: [{ ...values }] },
      nodes: [...document.nodes, { id: 'set', type: 'core.set', params: { values } }],
      ui: { ...document.ui, positions: { ...document.ui!.positions, set: [560, 0] } },
    }
    const doc = new Y.Doc()
    writeDocument(doc, ordered, isText)
    const input = JSON.stringify({ update: btoa(String.fromCharCode(...Y.encodeStateAsUpdate(doc))), document: ordered })
    const ran = spawnSync(python, ['-c', script], { input, encoding: 'utf8' })
    expect(ran.error, `${python} (make test sets it up)`).toBeUndefined()
    expect(ran.status, ran.stderr).toBe(0)
    const answer = JSON.parse(ran.stdout) as { read: WorkflowDocument; update: string }
    // Read by the server: the same document, every object's keys in their order.
    expect(JSON.stringify(answer.read.nodes.find((node) => node.id === 'set'))).toBe(JSON.stringify({ id: 'set', type: 'core.set', params: { values } }))
    expect(JSON.stringify(answer.read.input_schema)).toBe(JSON.stringify(ordered.input_schema))
    expect(JSON.stringify(answer.read.vars)).toBe(JSON.stringify(ordered.vars))
    expect(answer.read).toEqual(ordered)
    // Written by the server, read here.
    const back = new Y.Doc()
    Y.applyUpdate(back, Uint8Array.from(atob(answer.update), (char) => char.charCodeAt(0)))
    const read = readDocument(back)
    expect(JSON.stringify(read.nodes.find((node) => node.id === 'set')?.params)).toBe(JSON.stringify({ values }))
    expect(JSON.stringify(read.input_schema)).toBe(JSON.stringify(ordered.input_schema))
    expect(JSON.stringify(read.vars)).toBe(JSON.stringify(ordered.vars))
  })
})
