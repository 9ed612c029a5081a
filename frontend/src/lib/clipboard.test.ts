import { describe, expect, it } from 'vitest'
import type { WorkflowDocument } from '../api/types'
import { copySelection, followRenames, pasteDocument, readClipboard, uniqueId } from './clipboard'
import { workflowToGraph } from './graph'

const document: WorkflowDocument = {
  schema: 1,
  name: 'Source',
  nodes: [
    { id: 'start', type: 'trigger.manual' },
    { id: 'set', type: 'core.set', params: { values: { a: '{{ trigger.x }}' } } },
    { id: 'out', type: 'core.output', params: { value: '{{ nodes.set.output.a }}' }, pin: { output: 1 } },
  ],
  edges: [
    { from: 'start', to: 'set' },
    { from: 'set', to: 'out' },
  ],
  ui: {
    positions: { start: [0, 0], set: [300, 0], out: [600, 40] },
    notes: [{ id: 'note-1', text: 'hi', position: [300, 200], size: [220, 120], color: 'yellow' }],
  },
}

function selected(ids: string[]) {
  const graph = workflowToGraph(document)
  const pick = <T extends { id: string }>(items: T[]) => items.map((item) => ({ ...item, selected: ids.includes(item.id) }))
  return { nodes: pick(graph.nodes), edges: graph.edges, notes: pick(graph.notes ?? []) }
}

describe('copy and paste', () => {
  it('copies the selection as a workflow document, with the edges inside it', () => {
    const { nodes, edges, notes } = selected(['set', 'out', 'note-1'])
    const copied = copySelection('Source', nodes, edges, notes)!
    expect(copied.nodes.map((n) => n.id)).toEqual(['set', 'out'])
    expect(copied.edges).toEqual([{ from: 'set', to: 'out' }])
    expect(copied.ui?.positions).toEqual({ set: [300, 0], out: [600, 40] })
    expect(copied.ui?.notes).toHaveLength(1)
    expect(copied.nodes[1].pin).toEqual({ output: 1 })
    expect(copySelection('Source', nodes.map((n) => ({ ...n, selected: false })), edges, [])).toBeNull()
  })

  it('reads only workflow documents from the clipboard', () => {
    expect(readClipboard(JSON.stringify(document))?.nodes).toHaveLength(3)
    expect(readClipboard('hello')).toBeNull()
    expect(readClipboard('{"nodes": [{"id": 1}]}')).toBeNull()
    expect(readClipboard('{"nodes": []}')).toBeNull()
    expect(readClipboard('[1, 2]')).toBeNull()
  })

  it('pastes with new ids where they clash, following the renames in templates', () => {
    const { nodes, edges, notes } = selected(['set', 'out', 'note-1'])
    const copied = copySelection('Source', nodes, edges, notes)!
    const pasted = pasteDocument(copied, ['start', 'set', 'out', 'note-1'], { x: 1000, y: 500 })
    expect(pasted.nodes.map((n) => n.id)).toEqual(['set_2', 'out_2'])
    expect(pasted.nodes[1].data.def.params).toEqual({ value: '{{ nodes.set_2.output.a }}' })
    expect(pasted.edges.map((e) => [e.source, e.target])).toEqual([['set_2', 'out_2']])
    expect(pasted.nodes.map((n) => n.position)).toEqual([
      { x: 1000, y: 500 },
      { x: 1300, y: 540 },
    ])
    expect(pasted.notes.map((n) => [n.id, n.position])).toEqual([['note-2', { x: 1000, y: 700 }]])
    expect([...pasted.nodes, ...pasted.notes].every((item) => item.selected)).toBe(true)
  })

  it('keeps ids that are free, and drops edges to nodes left behind', () => {
    const pasted = pasteDocument({ ...document, nodes: document.nodes.slice(1) }, ['start'], { x: 0, y: 0 })
    expect(pasted.nodes.map((n) => n.id)).toEqual(['set', 'out'])
    expect(pasted.edges).toHaveLength(1)
  })

  it('makes unique ids and follows renames only of whole node ids', () => {
    expect(uniqueId('set', new Set(['set', 'set_2']))).toBe('set_3')
    expect(uniqueId('set_2', new Set(['set_2']))).toBe('set_3')
    const renamed = new Map([['a', 'b'], ['b', 'c']])
    const def = followRenames({ id: 'x', type: 't', params: { p: '{{ nodes.a.output }} {{ nodes.b.output }} {{ nodes.ab.output }}' } }, renamed)
    expect(def.params).toEqual({ p: '{{ nodes.b.output }} {{ nodes.c.output }} {{ nodes.ab.output }}' })
  })
})
