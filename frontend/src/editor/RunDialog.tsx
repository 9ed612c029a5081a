import { useId, useMemo, useRef, useState } from 'react'
import { api } from '../api/client'
import type { JsonSchema } from '../api/types'
import { answerOf, check, problemsByField, type FormValues } from '../lib/approvalForm'
import { runFormFields, valuesOf } from '../lib/mcpTool'
import { formatSize, withInputValue } from '../lib/media'
import { parseJson } from '../lib/schemaForm'
import { Modal } from '../ui/Modal'
import { FieldRow } from '../waits/ApprovalForm'
import { MOD } from './format'
import { useEditor } from './store'

interface Props {
  workflowId: string
  onRun: (input: unknown) => void
  onClose: () => void
}

/** The trigger payload of a manual run, as JSON, or as a form when the workflow's input
 * schema is one the approval form renders; the last one is remembered. */
export function RunDialog({ workflowId, onRun, onClose }: Props) {
  const key = `tav:run-input:${workflowId}`
  const [text, setText] = useState(() => localStorage.getItem(key) ?? '{}')
  const parsed = parseJson(text)
  const [fileKey, setFileKey] = useState('file')
  const [upload, setUpload] = useState<{ busy: boolean; error?: string; done?: string }>({ busy: false })
  const picker = useRef<HTMLInputElement>(null)
  const attach = async (file: File | undefined) => {
    if (!file) return
    setUpload({ busy: true })
    try {
      const stored = await api.uploadFile(file)
      const key = fileKey.trim() || 'file'
      setText((current) => withInputValue(current, key, stored.value))
      setUpload({ busy: false, done: `${stored.name} (${formatSize(stored.size)}) is in the input as “${key}”: {{ trigger.${key} }}` })
    } catch (error) {
      setUpload({ busy: false, error: `Not uploaded: ${(error as Error).message}` })
    } finally {
      if (picker.current) picker.current.value = ''
    }
  }
  const schema = useEditor((state) => state.base.input_schema) as JsonSchema | null | undefined
  const fields = useMemo(() => runFormFields(schema), [schema])
  const [asForm, setAsForm] = useState(fields !== null)
  const [values, setValues] = useState<FormValues>(() => (fields ? valuesOf(fields, 'value' in parsed ? parsed.value : null) : {}))
  const [problems, setProblems] = useState<Record<string, string>>({})
  const formId = useId()
  const switchTo = (form: boolean) => {
    if (!fields) return
    if (form) setValues(valuesOf(fields, 'value' in parsed ? parsed.value : null))
    else setText(JSON.stringify(answerOf(fields, values), null, 2))
    setProblems({})
    setAsForm(form)
  }
  const run = () => {
    if (asForm && fields) {
      const data = answerOf(fields, values)
      const found = check(fields, data)
      setProblems(problemsByField(found, fields))
      if (found.length) return
      localStorage.setItem(key, JSON.stringify(data, null, 2))
      onRun(data)
      return
    }
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
          <button className="primary" onClick={run} disabled={!asForm && !('value' in parsed)}>
            Run ({MOD}+Enter)
          </button>
        </>
      }
    >
      {fields && (
        <label className="check run-as-form">
          <input type="checkbox" role="switch" aria-label="Input as a form" checked={asForm} onChange={(event) => switchTo(event.target.checked)} />
          Input as a form (from the workflow's input schema); off: raw JSON
        </label>
      )}
      {asForm && fields ? (
        <form
          className="approval-form run-form"
          aria-label="Run input form"
          noValidate
          onSubmit={(event) => {
            event.preventDefault()
            run()
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault()
              event.stopPropagation()
              run()
            }
          }}
        >
          {fields.map((field) => (
            <FieldRow
              key={field.name}
              id={`${formId}-${field.name}`}
              field={field}
              value={values[field.name]}
              problem={problems[field.name]}
              onChange={(value) => {
                setValues((known) => ({ ...known, [field.name]: value }))
                setProblems(({ [field.name]: _, ...rest }) => rest)
              }}
            />
          ))}
          <p className="muted small">
            Available to the nodes as <code>{'{{ trigger.<name> }}'}</code>
          </p>
        </form>
      ) : (
        <>
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
          <div className="attach-file">
            <label>
              Attach a file at key
              <input className="attach-key" aria-label="Input key for the file" value={fileKey} maxLength={100} onChange={(event) => setFileKey(event.target.value)} />
            </label>
            <input ref={picker} type="file" hidden aria-label="File to attach" onChange={(event) => attach(event.target.files?.[0])} />
            <button onClick={() => picker.current?.click()} disabled={upload.busy} title="Upload a file and put its value into the input">
              {upload.busy ? 'Uploading…' : 'Attach file…'}
            </button>
          </div>
          {upload.done && <div className="muted small" data-testid="attached">{upload.done}</div>}
          {upload.error && <div className="field-error" role="alert">{upload.error}</div>}
        </>
      )}
    </Modal>
  )
}
