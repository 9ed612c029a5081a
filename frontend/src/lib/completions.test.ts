import { describe, expect, it } from 'vitest'
import { acceptCompletion, ancestors, completionsAt, type CompletionSource } from './completions'

// start -> fetch -> set, start -> side (not before set), set -> after.
const source: CompletionSource = {
  nodeId: 'set',
  ports: { start: ['output'], fetch: ['output', 'error'], side: ['output'], set: ['output'], after: ['output'] },
  edges: [
    { source: 'start', target: 'fetch' },
    { source: 'fetch', target: 'set' },
    { source: 'start', target: 'side' },
    { source: 'set', target: 'after' },
  ],
  outputs: {
    fetch: { output: { status: 200, body: { items: [{ sku: 'a' }, { sku: 'b' }] }, 'content-type': 'json' } },
  },
  trigger: { name: 'Ada', tags: ['x'] },
  vars: ['limit', 'region'],
}

/** The labels suggested with the cursor at the end of `text` (or at `^`). */
function labels(text: string, over: Partial<CompletionSource> = {}): string[] | null {
  const cursor = text.includes('^') ? text.indexOf('^') : text.length
  const completion = completionsAt(text.replace('^', ''), cursor, { ...source, ...over })
  return completion && completion.items.map((item) => item.label)
}

describe('completionsAt', () => {
  it('suggests nothing outside templates', () => {
    expect(labels('nodes.')).toBeNull()
    expect(labels('{{ trigger.name }} and nod')).toBeNull()
  })

  it('suggests the roots at the start of an expression, filtered by what is typed', () => {
    expect(labels('{{ ')).toEqual(['trigger', 'input', 'nodes', 'vars', 'execution'])
    expect(labels('Hi {{ tr')).toEqual(['trigger'])
    expect(labels('{% if in')).toEqual(['input'])
    expect(labels('{{ trigger.n > 3 and ex')).toEqual(['execution'])
  })

  it('offers only the upstream nodes, then their ports', () => {
    expect(labels('{{ nodes.')).toEqual(['fetch', 'start'])
    expect(labels('{{ nodes.f')).toEqual(['fetch'])
    expect(labels('{{ nodes.fetch.')).toEqual(['output', 'error'])
    expect(labels('{{ nodes.side.')).toBeNull()
  })

  it('lists the keys of the last outputs, one level at a time', () => {
    expect(labels('{{ nodes.fetch.output.')).toEqual(['status', 'body', 'content-type'])
    expect(labels('{{ nodes.fetch.output.body.')).toEqual(['items'])
    expect(labels('{{ nodes.fetch.output.body.items.')).toEqual(['0', '1'])
    expect(labels('{{ nodes.fetch.output.body.items.0.')).toEqual(['sku'])
    expect(labels('{{ nodes.start.output.')).toBeNull()
  })

  it('reads the trigger payload, variables and the execution', () => {
    expect(labels('{{ trigger.')).toEqual(['name', 'tags'])
    expect(labels('{{ trigger.', { trigger: undefined })).toBeNull()
    expect(labels('{{ vars.')).toEqual(['limit', 'region'])
    expect(labels('{{ vars.', { vars: null })).toBeNull()
    expect(labels('{{ execution.')).toEqual(['id', 'workflow', 'started_at'])
    expect(labels('{{ execution.st')).toEqual(['started_at'])
  })

  it('matches inside names after those that start with the text', () => {
    expect(labels('{{ execution.ed')).toEqual(['started_at'])
    expect(labels('{{ execution.i')).toEqual(['id'])
  })

  it('stays quiet after a complete name, a filter, or a name already in full', () => {
    expect(labels('{{ trigger.name | ti')).toBeNull()
    expect(labels('{{ trigger')).toBeNull()
    expect(labels('{{ x.y()')).toBeNull()
  })

  it('completes inside a closed template, replacing the rest of the name', () => {
    const text = '{{ nodes.fe^tch.output }}'
    const cursor = text.indexOf('^')
    const plain = text.replace('^', '')
    const completion = completionsAt(plain, cursor, { ...source, edges: source.edges })
    expect(completion).toBeNull() // `fetch` is there already
    const other = '{{ nodes.f^oo.output }}'
    const done = completionsAt(other.replace('^', ''), other.indexOf('^'), source)
    expect(done?.items.map((item) => item.label)).toEqual(['fetch'])
    expect(acceptCompletion(other.replace('^', ''), done!, done!.items[0])).toEqual({ text: '{{ nodes.fetch.output }}', cursor: 14 })
  })

  it('inserts the completed path, with a subscription for a key that is no name', () => {
    const text = '{"a": "{{ nodes.'
    const nodes = completionsAt(text, text.length, source)!
    expect(acceptCompletion(text, nodes, nodes.items[0])).toEqual({ text: '{"a": "{{ nodes.fetch', cursor: text.length + 5 })
    const keys = '{{ nodes.fetch.output.con'
    const completion = completionsAt(keys, keys.length, source)!
    expect(acceptCompletion(keys, completion, completion.items[0]).text).toBe('{{ nodes.fetch.output["content-type"]')
  })
})

describe('ancestors', () => {
  it('walks the edges backwards, nearest first', () => {
    expect(ancestors('set', source.edges)).toEqual(['fetch', 'start'])
    expect(ancestors('after', source.edges)).toEqual(['set', 'fetch', 'start'])
    expect(ancestors('start', source.edges)).toEqual([])
  })
})
