import { describe, expect, it } from 'vitest'
import { progressText } from '../editor/run'
import { changedSpan, errorLine } from './code'

describe('errorLine', () => {
  it('reads the line a code error names', () => {
    expect(errorLine({ type: 'code_error', message: 'line 5: ZeroDivisionError: division by zero' })).toBe(5)
    expect(errorLine({ type: 'code_syntax', message: 'line 12: SyntaxError: invalid syntax' })).toBe(12)
  })
  it('finds none where the error is not the code’s, or names no line', () => {
    expect(errorLine({ type: 'timeout', message: 'line 5: looks like one' })).toBeNull()
    expect(errorLine({ type: 'code_error', message: 'the code must define a function main(input)' })).toBeNull()
    expect(errorLine(null)).toBeNull()
  })
})

describe('changedSpan', () => {
  it('is the one span that differs', () => {
    expect(changedSpan('def main(input):\n    return 1\n', 'def main(input):\n    return 12\n')).toEqual({ from: 29, to: 29, insert: '2' })
    expect(changedSpan('abcdef', 'abXYef')).toEqual({ from: 2, to: 4, insert: 'XY' })
    expect(changedSpan('aaa', 'aa')).toEqual({ from: 2, to: 3, insert: '' })
    expect(changedSpan('same', 'same')).toBeNull()
  })
})

describe('what code prints', () => {
  it('reads as it was printed in the node’s output', () => {
    expect(progressText({ log: 'checking 41\n' })).toBe('checking 41\n')
    expect(progressText({ log: 'x', other: 1 })).toBe('{"log":"x","other":1}\n')
  })
})
