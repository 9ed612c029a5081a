import { describe, expect, it } from 'vitest'
import type { WorkflowDocument } from '../api/types'
import { catalog } from './fixtures'
import { graphToWorkflow, newNodeId, outputPorts, parseEnd, readNotes, workflowToGraph } from './graph'

const document: WorkflowDocument = {
  schema: 1,
  name: 'Branches',
  description: 'kept as it is',
  vars: { limit: 3 },
  nodes: [
    { id: 'start', type: 'trigger.manual' },
    { id: 'check', type: 'core.if', params: { condition: '{{ trigger.ok }}' }, retry: { max_attempts: 2 } },
    { id: 'yes', type: 'core.set', params: { values: { a: 1 } } },
    { id: 'join', type: 'core.merge' },
  ],
  edges: [
    { from: 'start', to: 'check' },
    { from: 'check:true', to: 'yes' },
    { from: 'yes', to: 'join' },
    { from: 'check:false', to: 'join:input' },
  ],
  ui: {
    positions: { start: [0, 0], check: [280, 0], yes: [560, -60], join: [840, 0] },
    notes: [{ id: 'note-1', text: 'Why this branch', position: [0, 200], size: [220, 120], color: 'blue' }],
    colors: 'kept',
  },
}

describe('workflow <-> graph', () => {
  it('reads edge ends with their default ports', () => {
    expect(parseEnd('a', 'output')).toEqual(['a', 'output'])
    expect(parseEnd('a:true', 'output')).toEqual(['a', 'true'])
  })

  it('turns nodes and edges into a graph placed at the stored positions', () => {
    const graph = workflowToGraph(document)
    expect(graph.nodes.map((n) => [n.id, n.position])).toEqual([
      ['start', { x: 0, y: 0 }],
      ['check', { x: 280, y: 0 }],
      ['yes', { x: 560, y: -60 }],
      ['join', { x: 840, y: 0 }],
    ])
    expect(graph.edges[1]).toMatchObject({ source: 'check', sourceHandle: 'true', target: 'yes', targetHandle: 'input' })
  })

  it('round-trips a document unchanged, short edge ends included', () => {
    const back = graphToWorkflow({ ...document, nodes: [], edges: [] }, workflowToGraph(document))
    expect(back).toEqual({ ...document, edges: [...document.edges.slice(0, 3), { from: 'check:false', to: 'join' }] })
  })

  it('reads sticky notes from ui.notes, dropping what is not a note', () => {
    const notes = readNotes([{ id: 'note-1', text: 'a', position: [1, 2] }, 'junk', { text: 'no position' }, { id: 'note-1', text: 'same id', position: [0, 0], color: 'purple' }])
    expect(notes.map((n) => [n.id, n.data.text, n.data.color, n.width])).toEqual([
      ['note-1', 'a', 'yellow', 220],
      ['note-2', 'same id', 'yellow', 220],
    ])
    const graph = workflowToGraph(document)
    expect(graphToWorkflow(document, { ...graph, notes: [] }).ui).not.toHaveProperty('notes')
  })

  it('keeps moved positions, rounded, in ui.positions', () => {
    const graph = workflowToGraph(document)
    graph.nodes[0].position = { x: 10.4, y: -20.6 }
    expect(graphToWorkflow(document, graph).ui?.positions?.start).toEqual([10, -21])
  })

  it('lays out documents written without positions from left to right', () => {
    const graph = workflowToGraph({ ...document, ui: {} })
    const x = Object.fromEntries(graph.nodes.map((n) => [n.id, n.position.x]))
    expect(x.start).toBeLessThan(x.check)
    expect(x.check).toBeLessThan(x.yes)
    expect(x.yes).toBeLessThan(x.join)
  })

  it('reads documents written without edges', () => {
    const graph = workflowToGraph({ schema: 1, name: 'bare', nodes: [{ id: 'start', type: 'trigger.manual' }] } as WorkflowDocument)
    expect(graph.nodes).toHaveLength(1)
    expect(graph.edges).toEqual([])
  })

  it('lists the output ports, dynamic ones and the error branch included', () => {
    expect(outputPorts({ id: 'c', type: 'core.if' }, catalog.get('core.if'))).toEqual(['true', 'false'])
    expect(outputPorts({ id: 's', type: 'core.switch', params: { cases: ['a', 'b'] } }, catalog.get('core.switch'))).toEqual(['default', 'a', 'b'])
    expect(outputPorts({ id: 'x', type: 'core.set', on_error: 'branch' }, catalog.get('core.set'))).toEqual(['output', 'error'])
  })

  it('makes readable, unused node ids', () => {
    expect(newNodeId('core.http_request', [])).toBe('http_request')
    expect(newNodeId('core.http_request', ['http_request', 'http_request_2'])).toBe('http_request_3')
    expect(newNodeId('x.9lives', [])).toBe('n_9lives')
  })
})
