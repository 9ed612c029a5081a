// The one node component: every node type is drawn from its catalog entry, so a custom
// node type needs no frontend code. The card reads its node's name (its id until it is
// given one; double-click to rename) over its type, and each output port has a "+" that
// adds the next node there.
import { Handle, Position, type NodeProps } from '@xyflow/react'
import { Fragment, memo, useRef, useState } from 'react'
import { useShallow } from 'zustand/react/shallow'
import { usePeers, type Mark } from '../collab/presence'
import { DEFAULT_OUTPUT, inputPorts, outputPorts, type FlowEdge, type FlowNode } from '../lib/graph'
import { PinIcon } from '../ui/icons'
import { WaitBadge } from '../waits/RunWait'
import { formatDuration, iconFor } from './format'
import { statusLabel } from './run'
import { useEditor } from './store'

export const TavNode = memo(function TavNode({ id, data, selected }: NodeProps<FlowNode>) {
  const def = data.def
  // One subscription per node (a workflow may have hundreds): every store change runs
  // each node's selector, and the node draws again only when one of these changed.
  const { type, run, problems, connected } = useEditor(
    useShallow((state) => ({
      type: state.catalog.get(def.type),
      run: state.run.nodes[id],
      problems: state.problems.length ? state.problems.filter((problem) => problem.node === id).length : 0,
      connected: connectedOutputs(state.edges).get(id) ?? '',
    })),
  )
  const marks = usePeers((state) => state.marks[id])
  const inputs = inputPorts(type)
  const outputs = outputPorts(def, type)
  const rows = Math.max(inputs.length, outputs.length, 1)
  const status = run?.status
  const classes = ['tav-node', `cat-${type?.category ?? 'unknown'}`, selected ? 'selected' : '', status ? `run-${status}` : '', problems ? 'invalid' : '', def.pin ? 'pinned' : '', marks ? 'peer-marked' : '']
  return (
    <div className={classes.join(' ')} data-testid={`node-${id}`} data-status={status ?? ''} style={marks ? { ['--peer' as string]: marks[0].color } : undefined}>
      {marks && <PeerMarks marks={marks} />}
      <div className="tav-node-head">
        <span className="tav-node-icon">{iconFor(type?.icon, type?.category)}</span>
        <div className="tav-node-titles">
          <NodeTitle id={id} name={def.name} />
          <div className="tav-node-type">{type?.title ?? def.type}</div>
        </div>
        {problems > 0 && (
          <span className="badge error" title={`${problems} problem${problems > 1 ? 's' : ''}: open the node to see them`}>
            {problems}
          </span>
        )}
        {def.pin && (
          <span className="badge pin" data-testid={`pinned-${id}`} title="Pinned output: this node does not run, its pinned data flows on">
            <PinIcon />
          </span>
        )}
      </div>
      {(rows > 1 || inputs.some((p) => p !== 'input') || outputs.some((p) => p !== 'output')) && (
        <div className="tav-node-ports">
          {Array.from({ length: rows }, (_, row) => (
            <div className="tav-node-port-row" key={row}>
              <span>{inputs[row] && inputs[row] !== 'input' ? inputs[row] : ''}</span>
              <span className={outputs[row] === 'error' ? 'port-error' : ''}>{outputs[row] && outputs[row] !== 'output' ? outputs[row] : ''}</span>
            </div>
          ))}
        </div>
      )}
      {status && (
        <div className={`tav-node-status status-${status}`} data-testid={`status-${id}`} data-reason={run.cancelReason ?? ''}>
          <span className="dot" />
          <span className="status-label">{statusLabel(run)}</span>
          {run.attempt > 1 && ` · attempt ${run.attempt}`}
          {run.reused && <span className="tag" title="Taken from an earlier execution">reused</span>}
          {run.pinned && <span className="tag" title="Pinned output">pinned</span>}
          {run.durationMs !== null && <span className="duration">{formatDuration(run.durationMs)}</span>}
        </div>
      )}
      {status === 'waiting' && <WaitBadge nodeId={id} />}
      {status === 'failed' && run.error && <div className="tav-node-error" title={run.error.message}>{run.error.message}</div>}
      {inputs.map((port, index) => (
        <Handle key={`in-${port}`} id={port} type="target" position={Position.Left} style={{ top: handleTop(index, inputs.length) }} title={`input: ${port}`} />
      ))}
      {outputs.map((port, index) => (
        <Fragment key={`out-${port}`}>
          <Handle id={port} type="source" position={Position.Right} className={port === 'error' ? 'handle-error' : ''} style={{ top: handleTop(index, outputs.length) }} title={`output: ${port}`} />
          <button
            className={`port-add nodrag nopan${connected.split('\n').includes(port) ? '' : ' free'}`}
            style={{ top: handleTop(index, outputs.length) }}
            aria-label={`Add a node after ${id}${port === 'output' ? '' : ` (${port})`}`}
            title={`Add the next node after ${port === 'output' ? 'this node' : `“${port}”`}: choose its type in the palette`}
            onClick={(event) => {
              event.stopPropagation()
              useEditor.getState().addAfter({ node: id, port })
            }}
          >
            +
          </button>
        </Fragment>
      ))}
    </div>
  )
})

/** Who else has the node selected (their colour around it) or its panel open (a hint that
 * they may be editing it: a hint, not a lock). */
function PeerMarks({ marks }: { marks: Mark[] }) {
  return (
    <div className="peer-marks" data-testid="peer-marks">
      {marks.map((mark, index) => (
        <span key={index} className="peer-mark" style={{ background: mark.color }} title={mark.panel ? `${mark.name} has this node open` : `${mark.name} selected this node`}>
          {mark.panel && <span aria-hidden="true">✎ </span>}
          {mark.name.split('@')[0]}
        </span>
      ))}
    </div>
  )
}

/** The node's name, or its id while it has none; a double click renames it in place. */
function NodeTitle({ id, name }: { id: string; name: string | null | undefined }) {
  const [editing, setEditing] = useState(false)
  const cancelled = useRef(false)
  const edit = () => {
    cancelled.current = false
    setEditing(true)
  }
  if (!editing) {
    return (
      <div className="tav-node-title nopan" title={`${name || id} · double-click to rename`} onDoubleClick={edit}>
        {name || id}
      </div>
    )
  }
  const rename = (text: string) => {
    setEditing(false)
    if (cancelled.current) return
    const next = text.trim() || undefined
    if (next !== (name || undefined)) useEditor.getState().updateNode(id, (def) => ({ ...def, name: next }), `name:${id}`)
  }
  return (
    <input
      className="tav-node-title-input nodrag nopan"
      aria-label={`Name of ${id}`}
      autoFocus
      defaultValue={name ?? ''}
      placeholder={id}
      maxLength={200}
      onFocus={(event) => event.target.select()}
      onBlur={(event) => rename(event.target.value)}
      onKeyDown={(event) => {
        event.stopPropagation() // Delete, Backspace and shortcuts act on the text here
        if (event.key === 'Enter') event.currentTarget.blur()
        if (event.key === 'Escape') {
          cancelled.current = true
          event.currentTarget.blur()
        }
      }}
    />
  )
}

// Which output ports have an edge, by node, as lines of text (a node draws again only when
// its own text changes): worked out once per change of the edges, not once per node (a
// workflow may have hundreds).
let outputsCache: { edges: FlowEdge[]; ports: Map<string, string> } | null = null

function connectedOutputs(edges: FlowEdge[]): Map<string, string> {
  if (outputsCache?.edges === edges) return outputsCache.ports
  const ports = new Map<string, string>()
  for (const edge of edges) {
    const port = edge.sourceHandle ?? DEFAULT_OUTPUT
    ports.set(edge.source, ports.has(edge.source) ? `${ports.get(edge.source)}\n${port}` : port)
  }
  outputsCache = { edges, ports }
  return ports
}

// Ports line up with their labels: the first under the header, then one per row.
function handleTop(index: number, count: number): number | string {
  return count === 1 ? 22 : 44 + 2 + index * 22 + 11
}
