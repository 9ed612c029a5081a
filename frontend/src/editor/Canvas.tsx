import {
  Background,
  BackgroundVariant,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  type Connection,
  type FinalConnectionState,
  type IsValidConnection,
  type XYPosition,
  useReactFlow,
  useStore,
} from '@xyflow/react'
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type MouseEvent as ReactMouseEvent } from 'react'
import { sharePointer } from '../collab/presence'
import { connectionProblem } from '../lib/connection'
import type { FlowEdge, FlowNode, NoteNode as Note } from '../lib/graph'
import { NoteNode } from './NoteNode'
import { DRAG_TYPE } from './Palette'
import { PeerPointers } from './Presence'
import { useEditor } from './store'
import { TavNode } from './TavNode'

const nodeTypes = { tav: TavNode, note: NoteNode }
// Props that are objects live out here: React Flow copies each into its store whenever
// its identity changes, which a literal in the JSX would do on every render.
const DELETE_KEYS = ['Delete', 'Backspace']
const MULTI_SELECTION_KEYS = ['Shift', 'Meta', 'Control']
// Every edge ends in an arrowhead at its target: which way the data flows.
const EDGE_OPTIONS = { interactionWidth: 16, markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 } }
const SNAP_GRID: [number, number] = [10, 10]
const FIT_VIEW = { padding: 0.2, maxZoom: 1 }
const PRO_OPTIONS = { hideAttribution: true }
const MINIMAP_COLORS: Record<string, string> = {
  succeeded: '#16a34a',
  failed: '#dc2626',
  running: '#2563eb',
  retrying: '#d97706',
  skipped: '#9ca3af',
}

interface Props {
  onDropType: (type: string, point: { x: number; y: number }) => void
  /** Where the pointer last was over the canvas, in screen coordinates (for paste). */
  pointer: { current: XYPosition | null }
  /** A right click on the empty canvas (`onItem` false) or on a node or the selection. */
  onMenu: (point: XYPosition, onItem: boolean) => void
}

export function Canvas({ onDropType, pointer, onMenu }: Props) {
  const workflowNodes = useEditor((state) => state.nodes)
  const notes = useEditor((state) => state.notes)
  // Notes first, so nodes are drawn over them.
  const nodes = useMemo<(FlowNode | Note)[]>(() => (notes.length ? [...notes, ...workflowNodes] : workflowNodes), [notes, workflowNodes])
  const edges = useEditor((state) => state.edges)
  const drawn = useReadyMark(nodes.length === 0)
  const onNodesChange = useEditor((state) => state.onNodesChange)
  const onEdgesChange = useEditor((state) => state.onEdgesChange)
  const onDragStart = useEditor((state) => state.onDragStart)
  const readOnly = useEditor((state) => state.readOnly)
  const { screenToFlowPosition } = useReactFlow()

  const onConnect = useCallback((connection: Connection) => {
    const problem = useEditor.getState().connect(connection)
    if (problem) useEditor.getState().notify('error', `Cannot connect: ${problem}`)
  }, [])

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback((connection) => {
    const { nodes, edges, catalog } = useEditor.getState()
    return connectionProblem(connection, nodes, edges, catalog) === null
  }, [])

  // A drop on a port that refuses the edge says why.
  const onConnectEnd = useCallback((_: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (state.isValid || !state.toHandle || !state.fromHandle || !state.toNode || !state.fromNode) return
    const forward = state.fromHandle.type === 'source'
    const [from, to] = forward ? [state.fromHandle, state.toHandle] : [state.toHandle, state.fromHandle]
    const [fromNode, toNode] = forward ? [state.fromNode, state.toNode] : [state.toNode, state.fromNode]
    if (from.type === to.type) return useEditor.getState().notify('error', 'Cannot connect: connect an output to an input')
    const { nodes, edges, catalog, notify } = useEditor.getState()
    const connection = { source: fromNode.id, sourceHandle: from.id, target: toNode.id, targetHandle: to.id }
    const problem = connectionProblem(connection, nodes, edges, catalog)
    if (problem) notify('error', `Cannot connect: ${problem}`)
  }, [])

  const onDragOver = useCallback((event: DragEvent) => {
    if (event.dataTransfer.types.includes(DRAG_TYPE)) {
      event.preventDefault()
      event.dataTransfer.dropEffect = 'move'
    }
  }, [])
  const onDrop = useCallback(
    (event: DragEvent) => {
      const type = event.dataTransfer.getData(DRAG_TYPE)
      if (!type) return
      event.preventDefault()
      onDropType(type, { x: event.clientX, y: event.clientY })
    },
    [onDropType],
  )

  const onMouseMove = useCallback(
    (event: ReactMouseEvent) => {
      pointer.current = { x: event.clientX, y: event.clientY }
      sharePointer(screenToFlowPosition(pointer.current))
    },
    [pointer, screenToFlowPosition],
  )
  const onMouseLeave = useCallback(() => {
    pointer.current = null
    sharePointer(null)
  }, [pointer])
  const onPaneMenu = useCallback(
    (event: ReactMouseEvent | MouseEvent) => {
      event.preventDefault()
      onMenu({ x: event.clientX, y: event.clientY }, false)
    },
    [onMenu],
  )
  const onItemMenu = useCallback(
    (event: ReactMouseEvent, item?: FlowNode | Note) => {
      event.preventDefault()
      if (item && !item.selected) useEditor.getState().select(item.id)
      onMenu({ x: event.clientX, y: event.clientY }, true)
    },
    [onMenu],
  )
  const onSelectionMenu = useCallback((event: ReactMouseEvent) => onItemMenu(event), [onItemMenu])
  return (
    <div className={`canvas${readOnly ? ' read-only' : ''}`} onDragOver={readOnly ? undefined : onDragOver} onDrop={readOnly ? undefined : onDrop} onMouseMove={onMouseMove} onMouseLeave={onMouseLeave}>
      <ReactFlow<FlowNode | Note, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStart={onDragStart}
        onSelectionDragStart={onDragStart}
        onConnect={onConnect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        deleteKeyCode={readOnly ? null : DELETE_KEYS}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={!readOnly}
        multiSelectionKeyCode={MULTI_SELECTION_KEYS}
        selectionKeyCode="Shift"
        defaultEdgeOptions={EDGE_OPTIONS}
        connectionRadius={24}
        snapToGrid
        snapGrid={SNAP_GRID}
        minZoom={0.1}
        maxZoom={2}
        fitView
        fitViewOptions={FIT_VIEW}
        onlyRenderVisibleElements={nodes.length > 200}
        onPaneContextMenu={onPaneMenu}
        onNodeContextMenu={onItemMenu}
        onSelectionContextMenu={onSelectionMenu}
        proOptions={PRO_OPTIONS}
      >
        <Background variant={BackgroundVariant.Dots} gap={20} size={1} />
        <PeerPointers />
        <Controls showInteractive={false} />
        {/* After the canvas: drawing hundreds of nodes twice would delay the first paint. */}
        {drawn && <MiniMap pannable zoomable nodeStrokeWidth={3} nodeColor={minimapColor} />}
      </ReactFlow>
    </div>
  )
}

/** Marks the moment the workflow is first drawn: its nodes measured, the view fitted to
 * them and painted. `data-ready` on the canvas tells tests; the `tav:canvas-ready`
 * performance mark (time since navigation) tells bench/editor.py. True from then on. */
function useReadyMark(empty: boolean): boolean {
  const fitted = useStore((state) => !state.fitViewQueued)
  const [ready, setReady] = useState(false)
  const done = useRef(false)
  useEffect(() => {
    if (done.current || !(fitted || empty)) return
    done.current = true
    // Two frames: the nodes the fitted view reveals are rendered, then painted.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.mark('tav:canvas-ready')
        document.querySelector('.canvas')?.setAttribute('data-ready', 'true')
        setReady(true)
      }),
    )
  }, [fitted, empty])
  return ready
}

function minimapColor(node: FlowNode | Note): string {
  if (node.type === 'note') return '#fde68a'
  const status = useEditor.getState().run.nodes[node.id]?.status
  return (status && MINIMAP_COLORS[status]) || '#cbd5e1'
}
