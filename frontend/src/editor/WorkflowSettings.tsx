// The workflow's own settings: its description, and whether it is offered as a tool of the
// MCP server (docs/reference/mcp.md) with the tool's name and input schema. They are part of
// the draft, as the name in the top bar is, and are saved with it; what the server refuses
// on save or validation (a name another workflow offers, 409; a bad name or schema, 422)
// is shown next to its field.
import { useId, useState } from 'react'
import type { JsonSchema, Problem } from '../api/types'
import { parseInputSchema, schemaText, toolNameProblem } from '../lib/mcpTool'
import { Modal } from '../ui/Modal'
import { useEditor } from './store'

const NO_PROBLEMS: Problem[] = []

/** The server's problems with a document field (`mcp.name`, `input_schema`, ...), joined. */
function problemWith(problems: readonly Problem[], prefix: string): string {
  return problems
    .filter((problem) => !problem.node && problem.edge == null && (problem.field === prefix || problem.field?.startsWith(`${prefix}.`)))
    .map((problem) => problem.message)
    .join('; ')
}

/** A tool name from the workflow's name: what the switch proposes first. */
function suggestedName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 128)
  return slug || 'workflow'
}

export function WorkflowSettings({ onClose }: { onClose: () => void }) {
  const base = useEditor((state) => state.base)
  const readOnly = useEditor((state) => state.readOnly)
  const problems = useEditor((state) => state.problems ?? NO_PROBLEMS)
  const { updateBase } = useEditor.getState()
  const id = useId()
  const offered = base.mcp != null
  const [toolName, setToolName] = useState(base.mcp?.name ?? suggestedName(base.name))
  const [schema, setSchema] = useState(() => schemaText(base.input_schema as JsonSchema | null | undefined))
  const parsed = parseInputSchema(schema)
  const nameProblem = offered ? toolNameProblem(toolName) : null
  const serverName = problemWith(problems, 'mcp')
  const serverSchema = problemWith(problems, 'input_schema')

  const offer = (on: boolean) => updateBase({ mcp: on ? { name: toolName } : undefined })
  // A new name takes back what the server said of the one before (validation says again).
  const rename = (name: string) => {
    setToolName(name)
    if (serverName) useEditor.getState().setProblems(problems.filter((problem) => !problemWith([problem], 'mcp')))
    updateBase({ mcp: { name } })
  }
  const editSchema = (text: string) => {
    setSchema(text)
    const next = parseInputSchema(text)
    if ('value' in next) updateBase({ input_schema: next.value ?? undefined })
  }
  return (
    <Modal title="Workflow settings" onClose={onClose} wide footer={<button onClick={onClose}>Done</button>}>
      <div className="field">
        <label htmlFor={`${id}-description`} className="field-label">
          Description
        </label>
        <textarea
          id={`${id}-description`}
          rows={3}
          readOnly={readOnly}
          value={base.description ?? ''}
          onChange={(event) => updateBase({ description: event.target.value || undefined })}
        />
        <div className="field-help">What the workflow does. An MCP client shows it to the model as the tool's description: say what the tool does and what it answers.</div>
      </div>
      <section className="mcp-settings" aria-label="Offer as an MCP tool">
        <h3>Offer as an MCP tool</h3>
        <label className={`switch${offered ? ' on' : ''}`}>
          <input type="checkbox" role="switch" aria-label="Offer as an MCP tool" checked={offered} disabled={readOnly} onChange={(event) => offer(event.target.checked)} />
          <span className="switch-track" aria-hidden="true" />
          <span className="switch-text">{offered ? 'Offered at /mcp' : 'Not offered'}</span>
        </label>
        {offered && (
          <div className={`field${nameProblem || serverName ? ' has-error' : ''}`}>
            <label htmlFor={`${id}-tool`} className="field-label">
              Tool name
            </label>
            <input
              id={`${id}-tool`}
              className="code"
              maxLength={200}
              spellCheck={false}
              readOnly={readOnly}
              aria-invalid={nameProblem || serverName ? true : undefined}
              value={toolName}
              onChange={(event) => rename(event.target.value)}
            />
            <div className="field-help">1 to 128 letters, digits, _, - and ., unique among the workflows offered.</div>
            {nameProblem && <div className="field-error">Tool name {nameProblem}</div>}
            {serverName && (
              <div className="field-error" role="alert" data-testid="tool-name-error">
                {serverName}
              </div>
            )}
          </div>
        )}
      </section>
      <div className={`field${'error' in parsed || serverSchema ? ' has-error' : ''}`}>
        <label htmlFor={`${id}-schema`} className="field-label">
          Input schema (JSON Schema of an object)
        </label>
        <textarea
          id={`${id}-schema`}
          className="code"
          rows={10}
          spellCheck={false}
          readOnly={readOnly}
          placeholder='{"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]}'
          value={schema}
          onChange={(event) => editSchema(event.target.value)}
        />
        <div className="field-help">
          The input a run takes, as <code>{'{{ trigger.<name> }}'}</code>: the MCP tool's arguments, and the form of the Run dialog. Empty: any input.
        </div>
        {'error' in parsed && <div className="field-error">{parsed.error} (the last valid schema is kept)</div>}
        {serverSchema && <div className="field-error">{serverSchema}</div>}
      </div>
    </Modal>
  )
}
