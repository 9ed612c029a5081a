// An approval's form: its fields (../lib/approvalForm), a comment, Approve and Reject. An
// answer that does not fit is shown field by field before it is sent; a refusal from the
// server (422 with the fields, 409 decided by someone else, 410 over) is shown as it says.
import { useId, useMemo, useState } from 'react'
import { api } from '../api/client'
import type { Wait, WaitDecided } from '../api/types'
import { answerOf, check, formFields, initialValues, problemsByField, type FormField, type FormValues } from '../lib/approvalForm'
import { decisionFailure, type DecisionFailure } from '../lib/waits'

interface Props {
  executionId: string
  wait: Wait
  /** The decision was taken (`decided`: the wait is decided; else more approvals are needed). */
  onDecided: (decided: WaitDecided, decision: 'approve' | 'reject') => void
  /** The wait can no longer be decided (someone else did, it timed out, the execution
   * ended): the refusal's message. */
  onGone?: (message: string) => void
}

export function ApprovalForm({ executionId, wait, onDecided, onGone }: Props) {
  const fields = useMemo(() => formFields(wait.fields), [wait.fields])
  const [values, setValues] = useState<FormValues>(() => initialValues(fields))
  const [comment, setComment] = useState('')
  const [problems, setProblems] = useState<Record<string, string>>({})
  const [failure, setFailure] = useState<DecisionFailure | null>(null)
  const [sending, setSending] = useState<'approve' | 'reject' | null>(null)
  const id = useId()

  const decide = async (decision: 'approve' | 'reject') => {
    const data = answerOf(fields, values)
    // A rejection needs no field (the server keeps its answer only if it fits).
    const found = decision === 'approve' ? check(fields, data) : []
    setProblems(problemsByField(found, fields))
    if (found.length) {
      setFailure({ message: `Not sent: ${found.length === 1 ? 'a field needs' : `${found.length} fields need`} another value (marked below).`, fields: {}, gone: false })
      return
    }
    setFailure(null)
    setSending(decision)
    try {
      onDecided(await api.decide(executionId, wait.node_id, { decision, data, comment }), decision)
    } catch (error) {
      const refused = decisionFailure(error, fields)
      setFailure(refused)
      setProblems(refused.fields)
      if (refused.gone) onGone?.(refused.message)
    } finally {
      setSending(null)
    }
  }

  // A change takes back what was said of the value before it (and that nothing was sent).
  const set = (name: string, value: string | boolean) => {
    setValues((known) => ({ ...known, [name]: value }))
    setProblems(({ [name]: _, ...rest }) => rest)
    setFailure((known) => (known?.gone ? known : null))
  }
  return (
    <form
      className="approval-form"
      aria-label={`Decide: ${wait.title || wait.node_id}`}
      noValidate
      onSubmit={(event) => {
        event.preventDefault()
        decide('approve')
      }}
    >
      {fields.map((field) => (
        <FieldRow key={field.name} id={`${id}-${field.name}`} field={field} value={values[field.name]} problem={problems[field.name]} onChange={(value) => set(field.name, value)} />
      ))}
      {problems[''] && <div className="field-error">{problems['']}</div>}
      <div className="field">
        <label htmlFor={`${id}-comment`} className="field-label">
          Comment <span className="muted small">(optional)</span>
        </label>
        <textarea id={`${id}-comment`} rows={2} maxLength={10_000} value={comment} onChange={(event) => setComment(event.target.value)} />
      </div>
      {failure && (
        <div className="banner error" role="alert" data-testid="decision-error">
          {failure.message}
        </div>
      )}
      <div className="approval-actions">
        <button type="submit" className="primary approve" disabled={sending !== null || failure?.gone}>
          {sending === 'approve' ? 'Approving…' : 'Approve'}
        </button>
        <button type="button" className="danger reject" disabled={sending !== null || failure?.gone} onClick={() => decide('reject')}>
          {sending === 'reject' ? 'Rejecting…' : 'Reject'}
        </button>
      </div>
    </form>
  )
}

interface FieldProps {
  id: string
  field: FormField
  value: string | boolean | undefined
  problem: string | undefined
  onChange: (value: string | boolean) => void
}

export function FieldRow({ id, field, value, problem, onChange }: FieldProps) {
  const described = field.description || problem ? `${id}-help` : undefined
  const common = { id, 'aria-invalid': problem ? true : undefined, 'aria-describedby': described, required: field.required }
  const label = (
    <>
      {field.title}
      {field.required && (
        <span className="required" title="Required">
          *
        </span>
      )}
    </>
  )
  return (
    <div className={`field${problem ? ' has-error' : ''}`} data-field={field.name}>
      {field.type === 'boolean' ? (
        <label className="check" htmlFor={id}>
          <input type="checkbox" {...common} checked={value === true} onChange={(event) => onChange(event.target.checked)} />
          {label}
        </label>
      ) : (
        <>
          <label htmlFor={id} className="field-label">
            {label}
          </label>
          <FieldInput common={common} field={field} text={typeof value === 'string' ? value : ''} onChange={onChange} />
        </>
      )}
      {described && (
        <div id={described}>
          {field.description && <div className="field-help">{field.description}</div>}
          {problem && <div className="field-error">{problem}</div>}
        </div>
      )}
    </div>
  )
}

type Common = { id: string; required: boolean; 'aria-invalid'?: boolean; 'aria-describedby'?: string }

function FieldInput({ common, field, text, onChange }: { common: Common; field: FormField; text: string; onChange: (value: string) => void }) {
  if (field.options) {
    return (
      <select {...common} value={text} onChange={(event) => onChange(event.target.value)}>
        <option value="">—</option>
        {field.options.map((option) => (
          <option key={String(option)} value={String(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    )
  }
  if (field.type === 'number' || field.type === 'integer') {
    return <input {...common} type="number" inputMode={field.type === 'integer' ? 'numeric' : 'decimal'} step={field.type === 'integer' ? 1 : 'any'} min={field.minimum} max={field.maximum} value={text} onChange={(event) => onChange(event.target.value)} />
  }
  const length = { minLength: field.minLength, maxLength: field.maxLength }
  if (field.format === 'textarea') return <textarea {...common} {...length} rows={4} value={text} onChange={(event) => onChange(event.target.value)} />
  const type = field.format === 'email' ? 'email' : field.format === 'date' ? 'date' : field.format === 'uri' ? 'url' : 'text'
  return <input {...common} {...length} type={type} value={text} onChange={(event) => onChange(event.target.value)} />
}
