import { describe, expect, it } from 'vitest'
import { assignLayers, layeredLayout } from './layout'

describe('auto-layout', () => {
  it('puts each node one layer right of its furthest parent', () => {
    const layers = assignLayers(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c'], ['a', 'c'], ['c', 'd']])
    expect(Object.fromEntries(layers)).toEqual({ a: 0, b: 1, c: 2, d: 3 })
  })

  it('still places every node of a cycle', () => {
    const layers = assignLayers(['a', 'b', 'c'], [['a', 'b'], ['b', 'c'], ['c', 'b']])
    expect(layers.size).toBe(3)
    expect(layers.get('a')).toBe(0)
  })

  it('draws a chain as a straight line from left to right', () => {
    const at = layeredLayout(['a', 'b', 'c'], [['a', 'b'], ['b', 'c']])
    expect([...at.values()].map((p) => p.y)).toEqual([0, 0, 0])
    expect(at.get('a')!.x).toBeLessThan(at.get('b')!.x)
    expect(at.get('b')!.x).toBeLessThan(at.get('c')!.x)
  })

  it('keeps the nodes of a layer apart, around their parent', () => {
    const at = layeredLayout(['root', 'x', 'y', 'z'], [['root', 'x'], ['root', 'y'], ['root', 'z']], { gapY: 40 })
    const ys = ['x', 'y', 'z'].map((id) => at.get(id)!.y).sort((a, b) => a - b)
    expect(ys[1] - ys[0]).toBeGreaterThanOrEqual(90)
    expect(ys[2] - ys[1]).toBeGreaterThanOrEqual(90)
    expect(ys[1]).toBe(at.get('root')!.y) // the middle child level with its parent
  })

  it('orders layers to avoid crossings', () => {
    // a1 -> b2 and a2 -> b1 cross in document order; the layout untangles them.
    const at = layeredLayout(['a1', 'a2', 'b1', 'b2'], [['a1', 'b2'], ['a2', 'b1']])
    expect(at.get('a1')!.y < at.get('a2')!.y).toBe(at.get('b2')!.y < at.get('b1')!.y)
  })

  it('uses the measured sizes', () => {
    const at = layeredLayout(['a', 'b', 'c'], [['a', 'c']], { size: (id) => (id === 'a' ? { width: 400, height: 200 } : undefined), gapX: 80, gapY: 40 })
    expect(at.get('c')!.x).toBe(480)
    expect(at.get('b')!.y).toBeGreaterThanOrEqual(240)
  })

  it('lays out 500 nodes quickly', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `n${i}`)
    const links = ids.slice(1).map((id, i): [string, string] => [ids[Math.floor(i / 3)], id])
    const started = performance.now()
    expect(layeredLayout(ids, links).size).toBe(500)
    expect(performance.now() - started).toBeLessThan(500)
  })
})
