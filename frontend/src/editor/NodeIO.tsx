// A node's part in the execution shown, as n8n's I/O view has it: what it received and
// what it gave out side by side, each as JSON or as a table; above them its state, its
// error or why it did not run, what an AI node used, and its pinned output.
import { useState } from 'react'
import type { NodeDef } from '../api/types'
import { outputPorts } from '../lib/graph'
import { cellText, nodeInput, toTable, type NodeInput } from '../lib/io'
import { aiSummary, formatUsage } from '../lib/usage'
import { PinIcon } from '../ui/icons'
import { formatDuration, MOD } from './format'
import { JsonTree } from './JsonTree'
import { JsonInput } from './inputs'
import { statusLabel } from './run'
import { useEditor } from './store'

type View = 'json' | 'table'
const MAX_ROWS = 100

export function NodeIO({ nodeId, def }: { nodeId: string; def: NodeDef }) {
  const state = useEditor((s) => s.run.nodes[nodeId])
  const executionId = useEditor((s) => s.run.executionId)
  const [view, setView] = useState<View>('json')
  return (
    <div className="output" data-testid="node-output">
      {def.pin && <Pinned nodeId={nodeId} pin={def.pin} />}
      {!executionId && !def.pin && <p className="muted small">Run the workflow ({MOD}+Enter) to see what this node receives and outputs.</p>}
      {executionId && !state && <p className="muted small">This node is not part of the execution shown.</p>}
      {executionId && state && (
        <>
          <RunSummary nodeId={nodeId} def={def} view={view} onView={setView} />
          <div className="io-columns">
            <section className="io-column" data-testid="node-io-input" aria-label="Input">
              <h4>Input</h4>
              <InputView nodeId={nodeId} def={def} view={view} />
            </section>
            <section className="io-column" data-testid="node-io-output" aria-label="Output">
              <h4>Output</h4>
              <OutputView nodeId={nodeId} view={view} />
            </section>
          </div>
        </>
      )}
    </div>
  )
}

/** The node's state in the execution, with the JSON/table switch and the pin button. */
function RunSummary({ nodeId, def, view, onView }: { nodeId: string; def: NodeDef; view: View; onView: (view: View) => void }) {
  const state = useEditor((s) => s.run.nodes[nodeId])
  const result = useEditor((s) => s.run.execution?.nodes[nodeId])
  const type = useEditor((s) => s.catalog.get(def.type))
  const ai = aiSummary(result)
  const ports = outputPorts(def, type)
  const pinnable = result?.status === 'succeeded' && result.outputs && Object.keys(result.outputs).some((port) => ports.includes(port))
  const pin = () => {
    const outputs = Object.fromEntries(Object.entries(result?.outputs ?? {}).filter(([port]) => ports.includes(port)))
    useEditor.getState().setPin(nodeId, outputs)
  }
  return (
    <>
      <div className="output-meta">
        <span className={`pill status-${state.status}`} data-testid="node-run-status">
          {statusLabel(state)}
        </span>
        {state.attempt > 0 && <span className="muted small">attempt {state.attempt}</span>}
        {state.durationMs !== null && <span className="muted small">{formatDuration(state.durationMs)}</span>}
        {(result?.reused || state.reused) && <span className="pill" title="Taken from an earlier execution">reused</span>}
        {(result?.pinned || state.pinned) && <span className="pill">pinned</span>}
        <div className="spacer" />
        <div className="segmented" role="group" aria-label="Show values as">
          {(['json', 'table'] as const).map((name) => (
            <button key={name} className={view === name ? 'active' : ''} aria-pressed={view === name} onClick={() => onView(name)}>
              {name === 'json' ? 'JSON' : 'Table'}
            </button>
          ))}
        </div>
        {pinnable && !def.pin && (
          <button className="small" onClick={pin} title="Keep this output as mock data: the node will not run, this output flows on">
            <PinIcon /> Pin output
          </button>
        )}
      </div>
      {ai && (
        <dl className="ai-usage" data-testid="ai-usage">
          {ai.provider && (
            <>
              <dt>Provider</dt>
              <dd>
                <strong>{ai.provider}</strong>
                {ai.model && <code> {ai.model}</code>}
              </dd>
            </>
          )}
          {ai.usage && (
            <>
              <dt>Tokens</dt>
              <dd>{formatUsage(ai.usage)}</dd>
            </>
          )}
        </dl>
      )}
      {state.reason && <p className="muted small">Skipped: {state.reason}</p>}
      {state.cancelReason === 'upstream_failed' && <p className="muted small" data-testid="not-run-reason">Not run: a node before it failed, and the workflow stops on that failure.</p>}
      {state.cancelReason === 'sibling_failed' && <p className="muted small" data-testid="not-run-reason">Stopped: a node on another branch failed, and the workflow stops on that failure.</p>}
      {state.error && (
        <div className="banner error" data-testid="node-error">
          <strong>{state.error.type}</strong>: {state.error.message}
        </div>
      )}
      {state.progress && (
        <section>
          <h4>{state.status === 'running' ? 'Live output' : 'Reported while running'}</h4>
          <pre className="progress" data-testid="node-progress">{state.progress}</pre>
        </section>
      )}
    </>
  )
}

function InputView({ nodeId, def, view }: { nodeId: string; def: NodeDef; view: View }) {
  const execution = useEditor((s) => s.run.execution)
  const edges = useEditor((s) => s.edges)
  const category = useEditor((s) => s.catalog.get(def.type)?.category)
  if (!execution) return <p className="muted small">Loading…</p>
  const input: NodeInput = nodeInput(nodeId, category === 'triggers', edges, execution)
  if (input.kind === 'trigger') {
    return (
      <>
        <p className="muted small">The execution's input (its trigger payload)</p>
        <Value value={input.value} view={view} />
      </>
    )
  }
  if (!input.ports.length) return <p className="muted small">No edge leads into this node.</p>
  return (
    <>
      {input.ports.map(({ port, arrivals }) => (
        <div key={port} className="io-port">
          {(input.ports.length > 1 || port !== 'input') && <div className="io-port-name">{port}</div>}
          {arrivals.map((arrival) => (
            <div key={`${arrival.node}:${arrival.port}`} className="io-arrival">
              <button className="link small" title="Show this node" onClick={() => useEditor.getState().select(arrival.node)}>
                from {arrival.node}
                {arrival.port !== 'output' && `:${arrival.port}`}
              </button>
              {arrival.arrived ? <Value value={arrival.value} view={view} /> : <p className="muted small">Nothing arrived.</p>}
            </div>
          ))}
        </div>
      ))}
    </>
  )
}

function OutputView({ nodeId, view }: { nodeId: string; view: View }) {
  const state = useEditor((s) => s.run.nodes[nodeId])
  const result = useEditor((s) => s.run.execution?.nodes[nodeId])
  if (!result) return <p className="muted small">{state.status === 'succeeded' ? 'Loading the output…' : 'No output yet.'}</p>
  const ports = Object.entries(result.outputs ?? {})
  if (!ports.length) return <p className="muted small">No output.</p>
  return (
    <>
      {ports.map(([port, value]) => (
        <div key={port} className="io-port">
          {(ports.length > 1 || port !== 'output') && <div className="io-port-name">{port}</div>}
          <Value value={value} view={view} />
        </div>
      ))}
    </>
  )
}

/** A value as a JSON tree, or as a table when asked and it has the shape of one. */
function Value({ value, view }: { value: unknown; view: View }) {
  const table = view === 'table' ? toTable(value) : null
  if (!table) {
    return (
      <div className="json-tree">
        <JsonTree value={value} />
      </div>
    )
  }
  const shown = table.rows.slice(0, MAX_ROWS)
  return (
    <div className="io-table-wrap">
      <table className="io-table" data-testid="io-table">
        <thead>
          <tr>
            {table.columns.map((column) => (
              <th key={column}>{column}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((row, index) => (
            <tr key={index}>
              {row.map((cell, column) => (
                <td key={column} title={typeof cell === 'object' && cell !== null ? JSON.stringify(cell) : undefined}>
                  {cellText(cell)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {table.rows.length > shown.length && <p className="muted small">{table.rows.length - shown.length} more rows: switch to JSON to see them.</p>}
    </div>
  )
}

/** The pinned output: editable as JSON (port → value), or unpinned. */
function Pinned({ nodeId, pin }: { nodeId: string; pin: Record<string, unknown> }) {
  const setPin = useEditor((s) => s.setPin)
  return (
    <section className="pinned-output" data-testid="pinned-output">
      <div className="output-meta">
        <strong>
          <PinIcon /> Pinned output
        </strong>
        <div className="spacer" />
        <button className="small" onClick={() => setPin(nodeId, undefined)} title="Run this node again instead of using the pinned output">
          Unpin
        </button>
      </div>
      <p className="muted small">This node does not run: these values go out on its ports (port → value).</p>
      <JsonInput
        label="Pinned output"
        value={pin}
        onChange={(value) => {
          if (value && typeof value === 'object' && !Array.isArray(value)) setPin(nodeId, value as Record<string, unknown>)
        }}
      />
    </section>
  )
}
