import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { WorkflowDocument } from '../api/types'
import { fingerprint, inOrderOf, nodesOf, readDocument, writeDocument } from './model'

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
  it('is the same whatever the order of nodes, edges and keys, or empty optional values', () => {
    const reordered: WorkflowDocument = {
      ui: { colors: 'kept', notes: document.ui!.notes, positions: { ask: [280, 0], start: [0, 0] } },
      edges: [{ from: 'start:output', to: 'ask' }],
      nodes: [{ ...document.nodes[1] }, { id: 'start', type: 'trigger.manual', params: {}, name: null }],
      vars: { limit: 3 },
      mcp: { name: 'summarize' },
      input_schema: { required: ['text'], type: 'object', properties: { text: { type: 'string' } } },
      description: 'kept',
      name: 'Branches',
      schema: 1,
    }
    expect(fingerprint(reordered)).toBe(fingerprint(document))
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
