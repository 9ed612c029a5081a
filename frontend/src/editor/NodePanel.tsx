// The selected node: its params (a form from the type's schema), its execution settings
// and, after a run, its input and output side by side (./NodeIO).
import { useMemo, useState } from 'react'
import type { NodeDef, OnError, RetryPolicy } from '../api/types'
import { initialTab, type PanelTab } from '../lib/io'
import { webhookUrl } from '../lib/media'
import { fieldsFromSchema } from '../lib/schemaForm'
import { Markdown } from '../ui/Markdown'
import { RunWaitSection } from '../waits/RunWait'
import { iconFor, MOD } from './format'
import { NumberInput, TemplateScope } from './inputs'
import { NodeIO } from './NodeIO'
import { ParamForm, withValue } from './ParamForm'
import { useEditor } from './store'

type Tab = PanelTab

interface Props {
  nodeId: string
  onClose: () => void
  /** Runs this node and what follows it again, reusing the rest; absent when there is no
   * earlier execution to reuse, or a run is going on. */
  onRunFrom?: () => void
}

export function NodePanel({ nodeId, onClose, onRunFrom }: Props) {
  const def = useEditor((state) => state.nodes.find((node) => node.id === nodeId)?.data.def)
  const type = useEditor((state) => (def ? state.catalog.get(def.type) : undefined))
  const allProblems = useEditor((state) => state.problems)
  const run = useEditor((state) => state.run)
  const updateNode = useEditor((state) => state.updateNode)
  const readOnly = useEditor((state) => state.readOnly)
  const fields = useMemo(() => (type ? fieldsFromSchema(type.params_schema) : []), [type])
  const problems = useMemo(() => allProblems.filter((problem) => problem.node === nodeId), [allProblems, nodeId])
  const [tab, setTab] = useState<Tab>(() => initialTab(problems, Boolean(run.executionId && run.nodes[nodeId]), Boolean(def?.pin)))
  if (!def) return null

  const update = (change: (def: NodeDef) => NodeDef, key: string) => updateNode(nodeId, change, `${key}:${nodeId}`)
  const setParam = (key: string, value: unknown) => update((d) => ({ ...d, params: withValue(d.params ?? {}, key, value) }), `param:${key}`)
  const paramProblems = problems.filter((problem) => problem.field?.startsWith('params'))
  const otherProblems = problems.filter((problem) => !problem.field?.startsWith('params.'))
  const nodeRun = run.nodes[nodeId]

  return (
    <aside className={`panel${tab === 'output' ? ' io' : ''}`} aria-label="Node settings">
      <header className="panel-head">
        <span className={`tav-node-icon cat-${type?.category}`}>{iconFor(type?.icon, type?.category)}</span>
        <div className="panel-titles">
          <input
            className="title-input"
            aria-label="Node name"
            value={def.name ?? ''}
            placeholder={nodeId}
            readOnly={readOnly}
            onChange={(event) => update((d) => ({ ...d, name: event.target.value || undefined }), 'name')}
          />
          <div className="muted small">
            <code>{nodeId}</code> · {def.type}
          </div>
        </div>
        <button
          className="small"
          onClick={onRunFrom}
          disabled={!onRunFrom || readOnly}
          title={onRunFrom ? `Run this node and everything after it again; the nodes before it keep their results from the execution shown (${MOD}+Shift+Enter)` : 'Run the workflow once first: a run from a node reuses the results of an earlier execution'}
        >
          ▶ Run from here
        </button>
        <button className="icon" onClick={onClose} title="Close (Esc)" aria-label="Close panel">
          ×
        </button>
      </header>
      {type?.description && <Markdown className="panel-desc" text={type.description} />}
      {!type && <div className="banner error">Unknown node type “{def.type}”: the server has no such node.</div>}
      {otherProblems.length > 0 && (
        <ul className="problems" aria-label="Problems">
          {otherProblems.map((problem, index) => (
            <li key={index}>
              {problem.field && <code>{problem.field}: </code>}
              {problem.message}
            </li>
          ))}
        </ul>
      )}
      {nodeRun && <RunWaitSection nodeId={nodeId} />}
      <nav className="panel-tabs" role="tablist">
        {(['params', 'settings', 'output'] as const).map((name) => (
          <button key={name} role="tab" aria-selected={tab === name} className={tab === name ? 'active' : ''} onClick={() => setTab(name)}>
            {name === 'params' ? 'Parameters' : name === 'settings' ? 'Settings' : 'Input / Output'}
            {name === 'params' && paramProblems.length > 0 && <span className="badge error">{paramProblems.length}</span>}
            {name === 'output' && nodeRun && <span className={`dot status-${nodeRun.status}`} />}
          </button>
        ))}
      </nav>
      <div className="panel-body">
        {tab === 'params' && def.type === 'trigger.webhook' && <WebhookUrl params={def.params ?? {}} />}
        {/* A viewer's form: every input in it is disabled at once. */}
        <fieldset className="plain" disabled={readOnly}>
          {tab === 'params' && (
            <TemplateScope.Provider value={nodeId}>
              <ParamForm fields={fields} values={def.params ?? {}} onChange={setParam} problems={paramProblems} />
            </TemplateScope.Provider>
          )}
          {tab === 'settings' && <Settings def={def} update={update} />}
        </fieldset>
        {tab === 'output' && <NodeIO nodeId={nodeId} def={def} />}
      </div>
    </aside>
  )
}

/** Where a webhook trigger answers, with a copy button. */
function WebhookUrl({ params }: { params: Record<string, unknown> }) {
  const active = useEditor((s) => s.active)
  const dirty = useEditor((s) => s.dirty)
  const [copied, setCopied] = useState(false)
  const url = webhookUrl(window.location.origin, params.path)
  const methods = Array.isArray(params.methods) && params.methods.length ? params.methods.join(', ') : 'POST'
  const copy = async () => {
    if (!url) return
    if (!(await copyText(url))) {
      useEditor.getState().notify('error', 'The URL could not be copied: select it and copy it by hand')
      return
    }
    setCopied(true)
    setTimeout(() => setCopied(false), 1500)
  }
  return (
    <div className="webhook-url" data-testid="webhook-url">
      <div className="field-label">Webhook URL</div>
      {url ? (
        <>
          <div className="copy-row">
            <input readOnly aria-label="Webhook URL" value={url} onFocus={(event) => event.target.select()} />
            <button className="small" onClick={copy} title="Copy the URL">
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
          <div className="muted small">
            {methods} · {active ? (dirty ? 'answers with the saved version while the workflow is active' : 'answering: the workflow is active') : 'answers only once the workflow is active (the Active switch above)'}
          </div>
        </>
      ) : (
        <div className="muted small">Set a path (letters, digits, . _ ~ - /) to get the URL.</div>
      )}
    </div>
  )
}

function Settings({ def, update }: { def: NodeDef; update: (change: (def: NodeDef) => NodeDef, key: string) => void }) {
  const retry = def.retry
  const setRetry = (key: keyof RetryPolicy, value: unknown) => update((d) => ({ ...d, retry: withValue({ ...(d.retry ?? {}) }, key, value) as RetryPolicy }), `retry:${key}`)
  return (
    <div className="param-form">
      <div className="field">
        <div className="field-label">On error</div>
        <select aria-label="On error" value={def.on_error ?? 'stop'} onChange={(event) => update((d) => ({ ...d, on_error: event.target.value as OnError }), 'on_error')}>
          <option value="stop">Stop the workflow</option>
          <option value="continue">Continue (skip what depends on this node)</option>
          <option value="branch">Send the error to an “error” output</option>
        </select>
      </div>
      <div className="field">
        <div className="field-label">Timeout (seconds)</div>
        <NumberInput label="Timeout" integer={false} value={def.timeout_s} placeholder="none" onChange={(value) => update((d) => ({ ...d, timeout_s: typeof value === 'number' && value > 0 ? value : undefined }), 'timeout')} />
      </div>
      <div className="field">
        <label className="check">
          <input type="checkbox" checked={Boolean(retry)} onChange={(event) => update((d) => ({ ...d, retry: event.target.checked ? { max_attempts: 3, backoff_s: 1 } : undefined }), 'retry')} />
          Retry when it fails
        </label>
      </div>
      {retry && (
        <div className="field-grid">
          {(
            [
              ['max_attempts', 'Attempts in all', true, 3],
              ['backoff_s', 'First delay (s)', false, 1],
              ['backoff_factor', 'Delay factor', false, 2],
              ['max_backoff_s', 'Longest delay (s)', false, 60],
            ] as const
          ).map(([key, label, integer, fallback]) => (
            <label key={key}>
              {label}
              <NumberInput label={label} integer={integer} value={retry[key]} placeholder={String(fallback)} onChange={(value) => setRetry(key, typeof value === 'number' ? value : undefined)} />
            </label>
          ))}
          <label className="check">
            <input type="checkbox" checked={retry.jitter ?? true} onChange={(event) => setRetry('jitter', event.target.checked ? undefined : false)} />
            Jitter
          </label>
        </div>
      )}
    </div>
  )
}

/** Copies `text` with the Clipboard API, else (pages served over plain HTTP from another
 * host than localhost have none) with the older copy command on the selected URL box;
 * whether either did. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const box = document.querySelector<HTMLInputElement>('.webhook-url input')
    box?.select()
    return Boolean(box) && document.execCommand('copy')
  }
}
