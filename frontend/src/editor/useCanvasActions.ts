// Where things land on the canvas: new nodes after the port whose "+" was clicked, beside
// the selected node or in the middle of the view; notes and pasted nodes at the pointer;
// and the tidy-up layout fitted to the view. Wherever a node lands, the canvas then pans
// to show it (useRevealNode).
import { useReactFlow, type XYPosition } from '@xyflow/react'
import { useCallback, useMemo, type RefObject } from 'react'
import { outputPorts, type FlowNode } from '../lib/graph'
import { useEditor } from './store'

export interface CanvasActions {
  /** A node of `type` at `point` (screen coordinates), else after the port being added
   * after, else beside the selected node, else in the middle of the view. */
  addNode(type: string, point?: XYPosition): void
  /** A note at `at` (screen coordinates), else at the pointer. */
  addNote(at?: XYPosition): void
  tidy(): void
  /** Where pasted things and notes go: at the pointer when it is over the canvas. */
  spot(): XYPosition
}

export function useCanvasActions(pointer: RefObject<XYPosition | null>): CanvasActions {
  const flow = useReactFlow()

  /** The middle of the view (where a node is put when nothing says where), in the flow. */
  const middle = useCallback(() => {
    const pane = document.querySelector('.canvas')?.getBoundingClientRect()
    return flow.screenToFlowPosition(pane ? { x: pane.x + pane.width / 2 - 90, y: pane.y + pane.height / 2 - 25 } : { x: 300, y: 200 })
  }, [flow])
  const spot = useCallback(() => (pointer.current ? flow.screenToFlowPosition(pointer.current) : middle()), [flow, middle, pointer])

  return useMemo(
    () => ({
      spot,
      addNode(type, point) {
        const state = useEditor.getState()
        const adding = state.addingAfter
        const after = adding ? state.nodes.find((node) => node.id === adding.node) : undefined
        const selected = state.nodes.filter((node) => node.selected)
        const from = after ?? (!point && selected.length === 1 ? selected[0] : undefined)
        let position
        if (point) position = flow.screenToFlowPosition(point)
        else if (from) position = { x: from.position.x + 260, y: from.position.y + (after && adding ? portRow(after, adding.port) * 100 : 0) }
        else position = middle()
        position = freeSpot(state.nodes, snap(position))
        state.addNode(type, position, from?.id, after ? adding?.port : undefined)
      },
      addNote(at) {
        useEditor.getState().addNote(snap(at ? flow.screenToFlowPosition(at) : spot()))
      },
      tidy() {
        useEditor.getState().layout((id) => {
          const node = flow.getInternalNode(id)
          return node?.measured.width && node.measured.height ? { width: node.measured.width, height: node.measured.height } : undefined
        })
        // After the moved nodes are drawn; fitView's promise only says when its animation ends.
        requestAnimationFrame(() => {
          flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 })
        })
      },
    }),
    [flow, middle, spot],
  )
}

/** Which of its node's outputs a port is (0 for the first): a node added after the second
 * output goes below one added after the first. */
function portRow(node: FlowNode, port: string): number {
  const index = outputPorts(node.data.def, useEditor.getState().catalog.get(node.data.def.type)).indexOf(port)
  return Math.max(0, index)
}

function snap(point: XYPosition): XYPosition {
  return { x: Math.round(point.x / 10) * 10, y: Math.round(point.y / 10) * 10 }
}

/** The point, moved down until a new node there covers no other node. */
function freeSpot(nodes: { position: XYPosition }[], point: XYPosition): XYPosition {
  const x = point.x
  let y = point.y
  while (nodes.some((node) => Math.abs(node.position.x - x) < 210 && Math.abs(node.position.y - y) < 80)) y += 90
  return { x, y }
}
