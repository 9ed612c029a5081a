// Keeping a node in view: the smallest pan of the canvas that shows the whole node (a new
// one, or one just selected), leaving the zoom alone. Pure, so the canvas's hook only
// measures and moves.

export interface Viewport {
  x: number
  y: number
  zoom: number
}

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

/** Space kept between a revealed node and the edge of the canvas, in screen pixels. */
export const REVEAL_MARGIN = 40

/**
 * The viewport that shows `node` (in flow coordinates) inside a pane of `pane` size, moved
 * as little as it can be; `null` when the node is already in view. A node larger than the
 * pane is centred on that axis.
 */
export function revealViewport(viewport: Viewport, pane: { width: number; height: number }, node: Rect, margin = REVEAL_MARGIN): Viewport | null {
  const { zoom } = viewport
  const dx = shift(node.x * zoom + viewport.x, node.width * zoom, pane.width, margin)
  const dy = shift(node.y * zoom + viewport.y, node.height * zoom, pane.height, margin)
  if (dx === 0 && dy === 0) return null
  return { x: viewport.x + dx, y: viewport.y + dy, zoom }
}

/** How far to move a span that starts at `start` (screen) to bring it inside [0, size]. */
function shift(start: number, length: number, size: number, margin: number): number {
  const room = Math.max(0, Math.min(margin, (size - length) / 2))
  if (length > size - 2 * room) return size / 2 - (start + length / 2)
  if (start < room) return room - start
  if (start + length > size - room) return size - room - (start + length)
  return 0
}
