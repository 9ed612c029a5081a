import { describe, expect, it } from 'vitest'
import { colorFor, marksOf, peersOf } from './presence'

const ada = { id: 'u1', name: 'ada@example.com', color: '#e11d48' }
const bob = { id: 'u2', name: 'bob@example.com', color: '#0891b2' }

describe('the others in a workflow', () => {
  it('are read from the awareness states, one’s own and broken ones left out', () => {
    const states = new Map<number, Record<string, unknown>>([
      [7, { user: ada, pointer: { x: 10, y: 20 }, selected: ['fetch'], panel: 'fetch', saved: 3 }],
      [1, { user: { ...bob, color: 'red; background: url(x)' }, pointer: { x: Number.NaN, y: 1 }, selected: 'nope' }],
      [5, { user: ada, pointer: null, selected: [], panel: null }],
      [9, {}],
    ])
    const peers = peersOf(states, 5)
    expect(peers.map((peer) => peer.clientId)).toEqual([1, 7])
    expect(peers[0]).toMatchObject({ user: { name: 'bob@example.com', color: '#64748b' }, pointer: null, selected: [], panel: null })
    expect(peers[1]).toMatchObject({ user: ada, pointer: { x: 10, y: 20 }, selected: ['fetch'], panel: 'fetch', saved: 3 })
  })

  it('mark the nodes they selected or have open, keeping the marks that did not change', () => {
    const peers = peersOf(
      new Map([
        [1, { user: ada, selected: ['a', 'b'], panel: null }],
        [2, { user: bob, selected: ['b'], panel: 'b' }],
      ]),
      0,
    )
    const marks = marksOf(peers)
    expect(marks.a).toEqual([{ name: ada.name, color: ada.color, panel: false }])
    expect(marks.b).toEqual([
      { name: ada.name, color: ada.color, panel: false },
      { name: bob.name, color: bob.color, panel: true },
    ])
    const next = marksOf([{ ...peers[0], selected: ['a'] }, peers[1]], marks)
    expect(next.a).toBe(marks.a)
    expect(next.b).not.toBe(marks.b)
  })

  it('have a colour of their own, the same in every session', () => {
    expect(colorFor('u1')).toBe(colorFor('u1'))
    expect(new Set(['u1', 'u2', 'u3', 'u4', 'u5'].map(colorFor)).size).toBeGreaterThan(1)
    expect(colorFor('u1')).toMatch(/^#[0-9a-f]{6}$/)
  })
})
