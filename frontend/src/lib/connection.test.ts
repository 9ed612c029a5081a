import { describe, expect, it } from 'vitest'
import type { WorkflowDocument } from '../api/types'
import { connectionProblem, pathBetween } from './connection'
import { catalog } from './fixtures'
import { workflowToGraph } from './graph'

const { nodes, edges } = workflowToGraph({
  schema: 1,
  name: 'w',
  nodes: [
    { id: 'start', type: 'trigger.manual' },
    { id: 'a', type: 'core.set' },
    { id: 'b', type: 'core.set' },
    { id: 'join', type: 'core.merge' },
    { id: 'free', type: 'core.set' },
  ],
  edges: [
    { from: 'start', to: 'a' },
    { from: 'a', to: 'b' },
    { from: 'b', to: 'join' },
  ],
} satisfies WorkflowDocument)

const problem = (source: string, target: string, sourceHandle = 'output', targetHandle = 'input') =>
  connectionProblem({ source, target, sourceHandle, targetHandle }, nodes, edges, catalog)

describe('connection validation', () => {
  it('accepts a new edge into a free input', () => {
    expect(problem('a', 'free')).toBeNull()
  })

  it('refuses a self-loop', () => {
    expect(problem('a', 'a')).toBe('a node cannot connect to itself')
  })

  it('refuses a second edge into an input that takes one value', () => {
    expect(problem('start', 'b')).toMatch(/input 'input' of 'b' takes one value and is already connected \(from 'a'\)/)
  })

  it('lets inputs that take many values take more edges', () => {
    expect(problem('a', 'join')).toBeNull()
  })

  it('refuses the same edge twice', () => {
    expect(problem('b', 'join')).toBe('these ports are already connected')
  })

  it('refuses a cycle and names it', () => {
    const withoutStart = edges.filter((edge) => edge.source !== 'start')
    const connection = { source: 'join', target: 'a', sourceHandle: 'output', targetHandle: 'input' }
    expect(connectionProblem(connection, nodes, withoutStart, catalog)).toBe('this edge would make a cycle: join → a → b → join')
  })

  it('refuses inputs a node does not have', () => {
    expect(problem('a', 'start')).toMatch(/takes no input/)
    expect(problem('a', 'free', 'output', 'nope')).toBe("'free' has no input 'nope'")
  })

  it('finds paths along the edges', () => {
    expect(pathBetween('start', 'join', edges)).toEqual(['start', 'a', 'b', 'join'])
    expect(pathBetween('join', 'start', edges)).toBeNull()
  })
})
