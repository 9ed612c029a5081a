import { describe, expect, it } from 'vitest'
import type { NodeResult, Problem } from '../api/types'
import { storedExecution } from './fixtures'
import { cellText, initialTab, nodeInput, toTable } from './io'

const result = (outputs: Record<string, unknown>): NodeResult => ({
  status: 'succeeded',
  attempts: 1,
  outputs,
  error: null,
  started_at: null,
  finished_at: null,
  duration_ms: 1,
})

const execution = storedExecution({
  mode: 'editor',
  input: { name: 'Ada' },
  nodes: {
    start: result({ output: { name: 'Ada' } }),
    check: result({ true: { ok: 1 } }),
    a: result({ output: [1, 2] }),
  },
})

describe("a node's input in an execution", () => {
  it("is the trigger payload for a trigger", () => {
    expect(nodeInput('start', true, [], execution)).toEqual({ kind: 'trigger', value: { name: 'Ada' } })
  })

  it('is what each edge brought, port by port, and says which edges brought nothing', () => {
    const edges = [
      { source: 'check', sourceHandle: 'true', target: 'merge', targetHandle: 'input' },
      { source: 'check', sourceHandle: 'false', target: 'merge', targetHandle: 'input' },
      { source: 'a', sourceHandle: null, target: 'merge', targetHandle: 'other' },
      { source: 'start', sourceHandle: 'output', target: 'elsewhere', targetHandle: 'input' },
    ]
    expect(nodeInput('merge', false, edges, execution)).toEqual({
      kind: 'ports',
      ports: [
        {
          port: 'input',
          arrivals: [
            { node: 'check', port: 'true', arrived: true, value: { ok: 1 } },
            { node: 'check', port: 'false', arrived: false },
          ],
        },
        { port: 'other', arrivals: [{ node: 'a', port: 'output', arrived: true, value: [1, 2] }] },
      ],
    })
  })

  it('tells a value that arrived as null from one that never arrived', () => {
    const withNull = { ...execution, nodes: { ...execution.nodes, n: result({ output: null }) } }
    const edges = [{ source: 'n', target: 'x' }, { source: 'gone', target: 'x' }]
    const input = nodeInput('x', false, edges, withNull)
    expect(input.kind === 'ports' && input.ports[0].arrivals.map((a) => a.arrived)).toEqual([true, false])
  })
})

describe('values as tables', () => {
  it('makes a column of every key of a list of objects, in the order first met', () => {
    expect(toTable([{ a: 1, b: 2 }, { b: 3, c: { d: 4 } }])).toEqual({
      columns: ['a', 'b', 'c'],
      rows: [
        [1, 2, undefined],
        [undefined, 3, { d: 4 }],
      ],
    })
  })

  it('makes one row of an object and one column of a list of plain values', () => {
    expect(toTable({ name: 'Ada', age: 36 })).toEqual({ columns: ['name', 'age'], rows: [['Ada', 36]] })
    expect(toTable(['x', 2])).toEqual({ columns: ['value'], rows: [['x'], [2]] })
  })

  it('has no table for plain values, empty values and mixed lists', () => {
    for (const value of ['text', 3, null, undefined, [], {}, [{ a: 1 }, 2]]) expect(toTable(value)).toBeNull()
  })

  it('writes cells as text, nested values as cut JSON', () => {
    expect(cellText('plain')).toBe('plain')
    expect(cellText(null)).toBe('null')
    expect(cellText(undefined)).toBe('')
    expect(cellText({ a: 'x'.repeat(100) }, 20)).toBe('{"a":"xxxxxxxxxxxxx…')
  })
})

describe('the tab a node panel opens on', () => {
  const problem = (field: string | null): Problem => ({ location: 'node', node: 'n', edge: null, field, message: 'wrong' })

  it('is the problem of an invalid node, before its run', () => {
    expect(initialTab([problem('params.url')], true, false)).toBe('params')
    expect(initialTab([problem('retry.max_attempts')], true, false)).toBe('settings')
    expect(initialTab([problem('on_error'), problem('timeout_s')], false, false)).toBe('settings')
    expect(initialTab([problem(null)], true, false)).toBe('params')
  })

  it('is what the node did in the execution shown, or its pinned output', () => {
    expect(initialTab([], true, false)).toBe('output')
    expect(initialTab([], false, true)).toBe('output')
    expect(initialTab([], false, false)).toBe('params')
  })
})
