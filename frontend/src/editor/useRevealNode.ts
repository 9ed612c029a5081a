// The node that was just added or selected is shown whole: the canvas pans (as little as it
// can, the zoom kept) once the node is drawn and the node panel has taken its place beside
// the canvas, which narrows it. A node being dragged is left where the pointer has it.
import { useReactFlow } from '@xyflow/react'
import { useEffect } from 'react'
import { DEFAULT_SIZE } from '../lib/layout'
import { revealViewport } from '../lib/viewport'

/** Frames to wait for a new node to be measured before its default size is assumed. */
const MEASURE_FRAMES = 10

export function useRevealNode(id: string | null): void {
  const flow = useReactFlow()
  useEffect(() => {
    if (!id) return
    let frame = 0
    let waited = 0
    const reveal = () => {
      const node = flow.getInternalNode(id)
      const pane = document.querySelector('.canvas')?.getBoundingClientRect()
      if (!node || !pane || node.dragging) return
      if (!node.measured.width && waited++ < MEASURE_FRAMES) {
        frame = requestAnimationFrame(reveal)
        return
      }
      const { x, y } = node.internals.positionAbsolute
      const rect = { x, y, width: node.measured.width ?? DEFAULT_SIZE.width, height: node.measured.height ?? DEFAULT_SIZE.height }
      const next = revealViewport(flow.getViewport(), pane, rect)
      if (next) flow.setViewport(next, { duration: 200 })
    }
    // After the frame in which the panel opened and the canvas was laid out anew.
    frame = requestAnimationFrame(reveal)
    return () => cancelAnimationFrame(frame)
  }, [id, flow])
}
