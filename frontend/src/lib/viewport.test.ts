import { describe, expect, it } from 'vitest'
import { revealViewport } from './viewport'

const pane = { width: 800, height: 600 }
const node = { width: 200, height: 50 }

describe('keeping a node in view', () => {
  it('leaves the view alone when the node is in it', () => {
    expect(revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 100, y: 100, ...node })).toBeNull()
  })

  it('pans as little as it can to show a node past an edge, with a margin', () => {
    // Past the right edge (under a side panel, say): moved left until 40 px are left.
    expect(revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 700, y: 100, ...node })).toEqual({ x: -140, y: 0, zoom: 1 })
    // Above and left of the view.
    expect(revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: -300, y: -90, ...node })).toEqual({ x: 340, y: 130, zoom: 1 })
    // Below it.
    expect(revealViewport({ x: 0, y: 0, zoom: 1 }, pane, { x: 100, y: 580, ...node })).toEqual({ x: 0, y: -70, zoom: 1 })
  })

  it('counts in screen pixels at the current zoom, and keeps the zoom', () => {
    // At zoom 0.5 the node spans 250..350 on screen: in view. At 2 it spans 1000..1400.
    expect(revealViewport({ x: 0, y: 0, zoom: 0.5 }, pane, { x: 500, y: 100, ...node })).toBeNull()
    expect(revealViewport({ x: 0, y: 0, zoom: 2 }, pane, { x: 500, y: 100, ...node })).toEqual({ x: -640, y: 0, zoom: 2 })
  })

  it('centres a node larger than the pane', () => {
    const wide = revealViewport({ x: 0, y: 0, zoom: 1 }, { width: 150, height: 600 }, { x: 0, y: 100, ...node })
    expect(wide).toEqual({ x: -25, y: 0, zoom: 1 })
  })
})
