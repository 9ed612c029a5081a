import { describe, expect, it } from 'vitest'
import { editableAsRows, moveRow, objectOf, rowsMatch, rowsOf } from './keyValue'

describe('object params as rows of name and value', () => {
  it('shows strings as text and anything else as JSON, in key order', () => {
    expect(rowsOf({ greeting: 'Hi {{ trigger.name }}', count: 3, tags: ['a'], none: null })).toEqual([
      { name: 'greeting', text: 'Hi {{ trigger.name }}', json: false },
      { name: 'count', text: '3', json: true },
      { name: 'tags', text: '["a"]', json: true },
      { name: 'none', text: 'null', json: true },
    ])
    expect(rowsOf(undefined)).toEqual([])
    expect(editableAsRows({ a: 1 })).toBe(true)
    expect(editableAsRows(undefined)).toBe(true)
    expect(editableAsRows(['a'])).toBe(false)
    expect(editableAsRows('{{ trigger }}')).toBe(false)
  })

  it('makes the object back, skipping blank rows', () => {
    const rows = [
      { name: 'greeting', text: 'Hi', json: false },
      { name: '', text: '', json: false },
      { name: ' count ', text: '3', json: true },
      { name: 'text', text: '3', json: false },
    ]
    expect(objectOf(rows)).toEqual({ value: { greeting: 'Hi', count: 3, text: '3' } })
    expect(objectOf(rowsOf({ a: { b: [1, true] }, c: 'x' }))).toEqual({ value: { a: { b: [1, true] }, c: 'x' } })
  })

  it('says which rows are not ready yet, and why', () => {
    const result = objectOf([
      { name: 'a', text: '1', json: false },
      { name: 'a', text: '2', json: false },
      { name: '', text: 'orphan', json: false },
      { name: 'b', text: '{"x": ', json: true },
    ])
    expect(Object.keys('problems' in result ? result.problems : {})).toEqual(['1', '2', '3'])
    if (!('problems' in result)) throw new Error('expected problems')
    expect(result.problems[1]).toMatch(/already set/)
    expect(result.problems[2]).toMatch(/name/)
    expect(result.problems[3]).toMatch(/not valid JSON yet/)
  })

  it('tells its own changes from an outside one', () => {
    const rows = rowsOf({ a: 'x', b: 2 })
    expect(rowsMatch(rows, { a: 'x', b: 2 })).toBe(true)
    expect(rowsMatch([...rows, { name: '', text: '', json: false }], { a: 'x', b: 2 })).toBe(true)
    expect(rowsMatch(rows, { b: 2, a: 'x' })).toBe(false) // reordered, by undo say
    expect(rowsMatch(rows, { a: 'y', b: 2 })).toBe(false)
    expect(rowsMatch([], undefined)).toBe(true)
  })

  it('moves rows up and down, not past the ends', () => {
    expect(moveRow(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b'])
    expect(moveRow(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c'])
    expect(moveRow(['a', 'b'], 0, -1)).toEqual(['a', 'b'])
    expect(moveRow(['a', 'b'], 1, 1)).toEqual(['a', 'b'])
  })
})
