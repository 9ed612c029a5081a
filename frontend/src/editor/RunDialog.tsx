import { useState } from 'react'
import { parseJson } from '../lib/schemaForm'
import { Modal } from '../ui/Modal'
import { MOD } from './format'

interface Props {
  workflowId: string
  onRun: (input: unknown) => void
  onClose: () => void
}

/** The trigger payload of a manual run, as JSON; the last one is remembered. */
export function RunDialog({ workflowId, onRun, onClose }: Props) {
  const key = `tav:run-input:${workflowId}`
  const [text, setText] = useState(() => localStorage.getItem(key) ?? '{}')
  const parsed = parseJson(text)
  const run = () => {
    if (!('value' in parsed)) return
    localStorage.setItem(key, text)
    onRun(parsed.value ?? null)
  }
  return (
    <Modal
      title="Run the workflow"
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={run} disabled={!('value' in parsed)}>
            Run ({MOD}+Enter)
          </button>
        </>
      }
    >
      <label>
        Input (JSON): available to the nodes as <code>{'{{ trigger }}'}</code>
        <textarea
          className="code"
          autoFocus
          rows={10}
          aria-label="Run input"
          spellCheck={false}
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault()
              event.stopPropagation()
              run()
            }
          }}
        />
      </label>
      {'error' in parsed && <div className="field-error">Not valid JSON: {parsed.error}</div>}
    </Modal>
  )
}
