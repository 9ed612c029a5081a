// Inputs of the node form: template text with {{ }} highlighting, numbers that may be
// templates, JSON, and a credential picker.
import { useEffect, useState } from 'react'
import { api } from '../api/client'
import type { CredentialSummary } from '../api/types'
import { parseJson, parseNumber } from '../lib/schemaForm'
import { templateSegments } from '../lib/templates'

interface TemplateProps {
  value: string
  onChange: (value: string) => void
  multiline?: boolean
  label: string
  placeholder?: string
}

/** A growing text area over a copy of its text in which templates are highlighted. */
export function TemplateInput({ value, onChange, multiline, label, placeholder }: TemplateProps) {
  const lines = Math.max(multiline ? 3 : 1, value.split('\n').length)
  return (
    <div className={`template-input${multiline ? ' multiline' : ''}`}>
      <div className="template-highlight" aria-hidden="true">
        {templateSegments(value).map((segment, index) =>
          segment.template ? (
            <mark key={index}>{segment.text}</mark>
          ) : (
            <span key={index}>{segment.text}</span>
          ),
        )}
        {'\u200b'}
      </div>
      <textarea
        aria-label={label}
        spellCheck={false}
        rows={Math.min(lines, 16)}
        value={value}
        placeholder={placeholder}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={(event) => {
          if (!multiline && event.key === 'Enter' && !event.shiftKey) event.preventDefault()
        }}
      />
    </div>
  )
}

interface NumberProps {
  value: unknown
  integer: boolean
  onChange: (value: number | string | undefined) => void
  label: string
  placeholder?: string
}

/** A number, or a template that renders to one; empty leaves the param out. */
export function NumberInput({ value, integer, onChange, label, placeholder }: NumberProps) {
  const [text, setText] = useState(value === undefined || value === null ? '' : String(value))
  useEffect(() => {
    if (parseNumber(text, integer) !== value) setText(value === undefined || value === null ? '' : String(value))
    // Only an outside change (undo, another node) resets the text being typed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value])
  return (
    <input
      aria-label={label}
      inputMode="decimal"
      value={text}
      placeholder={placeholder}
      onChange={(event) => {
        setText(event.target.value)
        onChange(parseNumber(event.target.value, integer))
      }}
    />
  )
}

interface JsonProps {
  value: unknown
  onChange: (value: unknown) => void
  label: string
  placeholder?: string
}

/** JSON text; the param changes only while the text parses. */
export function JsonInput({ value, onChange, label, placeholder }: JsonProps) {
  const show = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2))
  const [text, setText] = useState(show(value))
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    const parsed = parseJson(text)
    if (!('value' in parsed) || JSON.stringify(parsed.value) !== JSON.stringify(value)) {
      setText(show(value))
      setError(null)
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value])
  return (
    <>
      <TemplateInput
        label={label}
        multiline
        value={text}
        placeholder={placeholder}
        onChange={(next) => {
          setText(next)
          const parsed = parseJson(next)
          if ('error' in parsed) setError(parsed.error)
          else {
            setError(null)
            onChange(parsed.value)
          }
        }}
      />
      {error && <div className="field-error">Not valid JSON yet: {error}</div>}
    </>
  )
}

let credentials: Promise<CredentialSummary[]> | null = null

/** Drop the cached list of credentials (after one is created, renamed or deleted). */
export function forgetCredentials(): void {
  credentials = null
}

export function CredentialSelect({ value, onChange, label }: { value: unknown; onChange: (value: string | undefined) => void; label: string }) {
  const [items, setItems] = useState<CredentialSummary[] | null>(null)
  useEffect(() => {
    credentials ??= api.credentials().catch(() => [])
    credentials.then(setItems)
  }, [])
  const current = typeof value === 'string' ? value : ''
  const known = items?.some((item) => item.id === current)
  return (
    <select aria-label={label} value={current} onChange={(event) => onChange(event.target.value || undefined)}>
      <option value="">— choose a credential —</option>
      {current && !known && <option value={current}>{current} (not found)</option>}
      {items?.map((item) => (
        <option key={item.id} value={item.id}>
          {item.name} · {item.kind}
        </option>
      ))}
    </select>
  )
}
