// The one node component: every node type is drawn from its catalog entry, so a custom
// node type needs no frontend code.
import { Handle, Position, type NodeProps } from '@xyflow/react'
import { memo } from 'react'
import { useShallow } from 'zustand/react/shallow'
import { inputPorts, outputPorts, type FlowNode } from '../lib/graph'
import { PinIcon } from '../ui/icons'
import { formatDuration, iconFor } from './format'
import { useEditor } from './store'

export const TavNode = memo(function TavNode({ id, data, selected }: NodeProps<FlowNode>) {
  const def = data.def
  // One subscription per node (a workflow may have hundreds): every store change runs
  // each node's selector, and the node draws again only when one of these changed.
  const { type, run, problems } = useEditor(
    useShallow((state) => ({
      type: state.catalog.get(def.type),
      run: state.run.nodes[id],
      problems: state.problems.length ? state.problems.filter((problem) => problem.node === id).length : 0,
    })),
  )
  const inputs = inputPorts(type)
  const outputs = outputPorts(def, type)
  const rows = Math.max(inputs.length, outputs.length, 1)
  const status = run?.status
  const classes = ['tav-node', `cat-${type?.category ?? 'unknown'}`, selected ? 'selected' : '', status ? `run-${status}` : '', problems ? 'invalid' : '', def.pin ? 'pinned' : '']
  return (
    <div className={classes.join(' ')} data-testid={`node-${id}`} data-status={status ?? ''}>
      <div className="tav-node-head">
        <span className="tav-node-icon">{iconFor(type?.icon, type?.category)}</span>
        <div className="tav-node-titles">
          <div className="tav-node-title">{def.name || type?.title || def.type}</div>
          <div className="tav-node-id">{id}</div>
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
        <div className={`tav-node-status status-${status}`} data-testid={`status-${id}`}>
          <span className="dot" />
          {status}
          {run.attempt > 1 && ` · attempt ${run.attempt}`}
          {run.reused && <span className="tag" title="Taken from an earlier execution">reused</span>}
          {run.pinned && <span className="tag" title="Pinned output">pinned</span>}
          {run.durationMs !== null && <span className="duration">{formatDuration(run.durationMs)}</span>}
        </div>
      )}
      {status === 'failed' && run.error && <div className="tav-node-error" title={run.error.message}>{run.error.message}</div>}
      {inputs.map((port, index) => (
        <Handle key={`in-${port}`} id={port} type="target" position={Position.Left} style={{ top: handleTop(index, inputs.length) }} title={`input: ${port}`} />
      ))}
      {outputs.map((port, index) => (
        <Handle
          key={`out-${port}`}
          id={port}
          type="source"
          position={Position.Right}
          className={port === 'error' ? 'handle-error' : ''}
          style={{ top: handleTop(index, outputs.length) }}
          title={`output: ${port}`}
        />
      ))}
    </div>
  )
})

// Ports line up with their labels: the first under the header, then one per row.
function handleTop(index: number, count: number): number | string {
  return count === 1 ? 22 : 44 + 2 + index * 22 + 11
}
