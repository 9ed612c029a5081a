// The params form of a node, generated from its type's JSON Schema.
import { lazy, Suspense } from 'react'
import type { Problem } from '../api/types'
import type { Field } from '../lib/schemaForm'
import { Markdown } from '../ui/Markdown'
import { CronPreview } from './CronPreview'
import { CredentialSelect, JsonInput, NumberInput, TemplateInput } from './inputs'
import { KeyValueInput } from './KeyValueInput'
import { McpToolPicker } from './McpToolPicker'

interface Props {
  fields: Field[]
  values: Record<string, unknown>
  onChange: (key: string, value: unknown) => void
  problems?: Problem[]
  prefix?: string
}

/** The code editor (CodeMirror) loads with the first code param shown. */
const CodeInput = lazy(() => import('./CodeInput').then((module) => ({ default: module.CodeInput })))

export function ParamForm({ fields, values, onChange, problems = [], prefix = 'params' }: Props) {
  if (!fields.length) return <p className="muted small">This node has no parameters.</p>
  return (
    <div className="param-form">
      {fields.map((field) => {
        const path = `${prefix}.${field.key}`
        const own = problems.filter((problem) => problem.field === path || problem.field?.startsWith(`${path}.`))
        return (
          <div className={`field${own.length ? ' has-error' : ''}`} key={field.key} data-field={field.key}>
            {field.kind === 'boolean' ? (
              <label className="check">
                <input type="checkbox" checked={Boolean(values[field.key] ?? field.default)} onChange={(event) => onChange(field.key, event.target.checked)} />
                {field.title}
              </label>
            ) : (
              <div className="field-label">
                {field.title}
                {field.required && <span className="required" title="Required">*</span>}
                <code className="field-key">{field.key}</code>
              </div>
            )}
            {field.kind !== 'boolean' && field.format !== 'mcp-tool' && <FieldInput field={field} param={prefix === 'params' ? field.key : undefined} value={values[field.key]} onChange={(value) => onChange(field.key, value)} />}
            {field.format === 'mcp-tool' && <McpToolPicker label={field.title} credential={values[field.credentialParam ?? 'credential']} value={values[field.key]} onChange={(value) => onChange(field.key, value)} />}
            {field.format === 'cron' && <CronPreview cron={values[field.key]} timezone={values.timezone} fieldHasProblem={own.length > 0} />}
            {field.description && <Markdown className="field-help" text={field.description} />}
            {own.map((problem, index) => (
              <div className="field-error" key={index}>
                {problem.field !== path && <code>{problem.field?.slice(prefix.length + 1)}: </code>}
                {problem.message}
              </div>
            ))}
          </div>
        )
      })}
    </div>
  )
}

function FieldInput({ field, param, value, onChange }: { field: Field; param?: string; value: unknown; onChange: (value: unknown) => void }) {
  const placeholder = field.default !== undefined && field.default !== null ? `default: ${JSON.stringify(field.default)}` : undefined
  switch (field.kind) {
    case 'text':
      if (field.format === 'code') {
        const code = typeof value === 'string' ? value : String(field.default ?? '')
        return (
          <Suspense fallback={<textarea aria-label={field.title} className="code-fallback" value={code} readOnly rows={Math.min(code.split('\n').length, 16)} />}>
            <CodeInput label={field.title} value={code} onChange={onChange} />
          </Suspense>
        )
      }
      return <TemplateInput label={field.title} param={param} multiline={field.multiline} value={typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value)} placeholder={placeholder} onChange={(text) => onChange(text === '' && !field.required ? undefined : text)} />
    case 'number':
    case 'integer':
      return <NumberInput label={field.title} integer={field.kind === 'integer'} value={value} placeholder={placeholder} onChange={onChange} />
    case 'enum':
      return (
        <select aria-label={field.title} value={value === undefined ? '' : String(value)} onChange={(event) => onChange(event.target.value === '' ? undefined : field.options?.find((option) => String(option) === event.target.value))}>
          {(!field.required || value === undefined) && <option value="">{field.default !== undefined ? `default (${String(field.default)})` : '—'}</option>}
          {field.options?.map((option) => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      )
    case 'credential':
      return <CredentialSelect label={field.title} value={value} onChange={onChange} />
    case 'string-list':
      return <StringList label={field.title} value={Array.isArray(value) ? value.map(String) : []} onChange={(items) => onChange(items.length ? items : undefined)} />
    case 'key-value':
      return <KeyValueInput field={field} value={value} onChange={onChange} />
    case 'object-list':
      return <ObjectList field={field} value={Array.isArray(value) ? (value as Record<string, unknown>[]) : []} onChange={(items) => onChange(items.length ? items : undefined)} />
    default:
      return <JsonInput label={field.title} value={value} placeholder={placeholder ?? 'JSON'} onChange={onChange} />
  }
}

function StringList({ value, onChange, label }: { value: string[]; onChange: (items: string[]) => void; label: string }) {
  return (
    <div className="list-input">
      {value.map((item, index) => (
        <div className="list-row" key={index}>
          <TemplateInput label={`${label} ${index + 1}`} value={item} onChange={(text) => onChange(value.map((v, i) => (i === index ? text : v)))} />
          <button className="icon" title="Remove" onClick={() => onChange(value.filter((_, i) => i !== index))}>
            ×
          </button>
        </div>
      ))}
      <button className="small" onClick={() => onChange([...value, ''])}>
        + Add
      </button>
    </div>
  )
}

function ObjectList({ field, value, onChange }: { field: Field; value: Record<string, unknown>[]; onChange: (items: Record<string, unknown>[]) => void }) {
  return (
    <div className="list-input">
      {value.map((item, index) => (
        <div className="list-group" key={index}>
          <div className="list-group-head">
            <span className="muted small">#{index + 1}</span>
            <button className="icon" title="Remove" onClick={() => onChange(value.filter((_, i) => i !== index))}>
              ×
            </button>
          </div>
          <ParamForm
            prefix={`${field.key}.${index}`}
            fields={field.itemFields ?? []}
            values={item ?? {}}
            onChange={(key, v) => onChange(value.map((it, i) => (i === index ? withValue(it, key, v) : it)))}
          />
        </div>
      ))}
      <button className="small" onClick={() => onChange([...value, {}])}>
        + Add
      </button>
    </div>
  )
}

export function withValue(values: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const next = { ...values }
  if (value === undefined) delete next[key]
  else next[key] = value
  return next
}
