import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { applyText, moveCaret, splice } from './text'

describe('a change of a text', () => {
  it('is the one span that differs', () => {
    expect(splice('Hello', 'Hello')).toBeNull()
    expect(splice('Hello', 'Hello!')).toEqual({ index: 5, remove: 0, insert: '!' })
    expect(splice('Hello world', 'Hello, world')).toEqual({ index: 5, remove: 0, insert: ',' })
    expect(splice('Hello world', 'Help world')).toEqual({ index: 3, remove: 2, insert: 'p' })
    expect(splice('abc', '')).toEqual({ index: 0, remove: 3, insert: '' })
  })

  it('is placed where the caret says when the text repeats around it', () => {
    expect(splice('aa', 'aaa')).toEqual({ index: 2, remove: 0, insert: 'a' })
    expect(splice('aa', 'aaa', 1)).toEqual({ index: 0, remove: 0, insert: 'a' })
    expect(splice('aa', 'aaa', 2)).toEqual({ index: 1, remove: 0, insert: 'a' })
  })

  it('is written into a Y.Text as that span, so concurrent typing merges', () => {
    const a = new Y.Doc()
    a.getText('t').insert(0, 'Hello')
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    applyText(a.getText('t'), 'Hello world')
    applyText(b.getText('t'), 'Oh, Hello')
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b))
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    expect(a.getText('t').toString()).toBe('Oh, Hello world')
    expect(b.getText('t').toString()).toBe('Oh, Hello world')
  })
})

describe('a caret, after someone else changed the text', () => {
  it('moves on past what was typed before it, not past what was typed after it', () => {
    expect(moveCaret(5, [{ insert: 'Oh, ' }])).toBe(9)
    expect(moveCaret(5, [{ retain: 5 }, { insert: '!' }])).toBe(5)
    expect(moveCaret(5, [{ retain: 7 }, { insert: '!' }])).toBe(5)
  })

  it('moves back by what was deleted before it, only as far as the deletion', () => {
    expect(moveCaret(5, [{ retain: 1 }, { delete: 2 }])).toBe(3)
    expect(moveCaret(2, [{ retain: 1 }, { delete: 4 }])).toBe(1)
    expect(moveCaret(5, [{ retain: 1 }, { delete: 1 }, { insert: 'xyz' }])).toBe(7)
  })
})
