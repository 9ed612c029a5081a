// Inputs of the node form: template text with {{ }} highlighting and suggestions, numbers
// that may be templates, JSON, and a credential picker.
import { createContext, useContext, useEffect, useId, useLayoutEffect, useRef, useState } from 'react'
import { api } from '../api/client'
import type { CredentialSummary } from '../api/types'
import { onSharedText } from '../collab/binding'
import { moveCaret } from '../collab/text'
import { acceptCompletion, completionsAt, type Completion, type CompletionSource } from '../lib/completions'
import { outputPorts } from '../lib/graph'
import { parseJson, parseNumber } from '../lib/schemaForm'
import { templateSegments } from '../lib/templates'
import { useEditor } from './store'

/** The tallest a template input grows (16 lines of text), in pixels. */
const MAX_HEIGHT = 16 * 18 + 12

/** The node whose params the template inputs below edit; without one, no suggestions. */
export const TemplateScope = createContext<string | null>(null)

let variables: Promise<string[] | null> | null = null

/** Drop the cached names of the variables (after one is set or deleted). */
export function forgetVariables(): void {
  variables = null
}

/** The names of the server's variables, for suggestions; null (and a notice) when they
 * cannot be read, and asked again by the next field. */
function loadVariables(): Promise<string[] | null> {
  variables ??= api.variables().then(
    (items) => items.map((item) => item.name),
    (error: Error) => {
      variables = null
      useEditor.getState().notify('error', `The variables could not be read for suggestions: ${error.message}`)
      return null
    },
  )
  return variables
}

/** What a template in the params of `nodeId` can read, from the editor's graph and the
 * execution shown. */
function completionSource(nodeId: string, serverVars: string[] | null): CompletionSource {
  const state = useEditor.getState()
  const execution = state.run.execution
  const ports: CompletionSource['ports'] = {}
  const outputs: CompletionSource['outputs'] = {}
  for (const node of state.nodes) {
    const def = node.data.def
    ports[node.id] = outputPorts(def, state.catalog.get(def.type))
    outputs[node.id] = execution?.nodes[node.id]?.outputs ?? def.pin
  }
  const own = Object.keys(state.base.vars ?? {})
  const vars = serverVars || own.length ? [...new Set([...(serverVars ?? []), ...own])].sort() : null
  return {
    nodeId,
    ports,
    outputs,
    edges: state.edges.map((edge) => ({ source: edge.source, target: edge.target })),
    trigger: execution ? execution.input : undefined,
    vars,
  }
}

interface TemplateProps {
  value: string
  onChange: (value: string) => void
  multiline?: boolean
  label: string
  placeholder?: string
  /** The param of the scope's node this text is (a long text may be shared text, which
   * others type into too). */
  param?: string
}

/** A growing text area over a copy of its text in which templates are highlighted; inside
 * `{{ }}` it lists what the template can read. */
export function TemplateInput({ value, onChange, multiline, label, placeholder, param }: TemplateProps) {
  const lines = Math.max(multiline ? 3 : 1, value.split('\n').length)
  const nodeId = useContext(TemplateScope)
  const [serverVars, setServerVars] = useState<string[] | null>(null)
  const [completion, setCompletion] = useState<Completion | null>(null)
  const [active, setActive] = useState(0)
  const area = useRef<HTMLTextAreaElement>(null)
  const caret = useRef<number | null>(null)
  const listId = useId()
  useSharedCaret(area, nodeId, param)

  useEffect(() => {
    if (nodeId) loadVariables().then(setServerVars) // never rejects: a failure is a notice
  }, [nodeId])
  useLayoutEffect(() => {
    if (caret.current === null || !area.current) return
    area.current.setSelectionRange(caret.current, caret.current)
    caret.current = null
  })
  // As tall as its text, wrapped lines included (a long template in a narrow field).
  useLayoutEffect(() => {
    const element = area.current
    if (!element) return
    element.style.height = ''
    const borders = element.offsetHeight - element.clientHeight
    element.style.height = `${Math.min(element.scrollHeight + borders, MAX_HEIGHT)}px`
  }, [value])

  const suggest = (element: HTMLTextAreaElement) => {
    if (!nodeId || element.selectionStart !== element.selectionEnd) return setCompletion(null)
    const next = completionsAt(element.value, element.selectionStart, completionSource(nodeId, serverVars))
    setCompletion(next)
    if (next?.typed !== completion?.typed || next?.from !== completion?.from) setActive(0)
  }
  const accept = (index: number) => {
    if (!completion) return
    const done = acceptCompletion(value, completion, completion.items[index])
    caret.current = done.cursor
    setCompletion(null)
    onChange(done.text)
  }
  const open = completion !== null

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
        ref={area}
        aria-autocomplete={nodeId ? 'list' : undefined}
        aria-controls={open ? listId : undefined}
        aria-activedescendant={open ? `${listId}-${active}` : undefined}
        onChange={(event) => onChange(event.target.value)}
        onSelect={(event) => suggest(event.currentTarget)}
        onBlur={() => setCompletion(null)}
        onKeyDown={(event) => {
          if (open && !event.ctrlKey && !event.metaKey && !event.altKey) {
            const count = completion.items.length
            const handled = () => {
              event.preventDefault()
              event.stopPropagation()
            }
            if (event.key === 'ArrowDown') return (handled(), setActive((active + 1) % count))
            if (event.key === 'ArrowUp') return (handled(), setActive((active - 1 + count) % count))
            if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') return (handled(), accept(Math.min(active, count - 1)))
            if (event.key === 'Escape') return (handled(), setCompletion(null))
          }
          if (!multiline && event.key === 'Enter' && !event.shiftKey) event.preventDefault()
        }}
      />
      {open && (
        <ul className="template-suggestions" role="listbox" id={listId} aria-label="Suggestions">
          {completion.items.map((item, index) => (
            <li
              key={`${item.label}-${index}`}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'active' : ''}
              onMouseDown={(event) => {
                event.preventDefault() // keep the focus in the text
                accept(index)
              }}
              onMouseEnter={() => setActive(index)}
            >
              <span className="suggestion-label">{item.label}</span>
              {item.detail && <span className="suggestion-detail">{item.detail}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** Keeps the caret and selection of a focused text on the same characters when someone
 * else changes the text before them (their change lands, the text is drawn again, and
 * the caret is put back where it belongs rather than at the end). */
function useSharedCaret(area: { current: HTMLTextAreaElement | null }, nodeId: string | null, param: string | undefined): void {
  const moved = useRef<[number, number] | null>(null)
  useEffect(() => {
    if (!nodeId || !param) return
    return onSharedText((node, key, delta) => {
      const element = area.current
      if (node !== nodeId || key !== param || !element || document.activeElement !== element) return
      const [start, end] = moved.current ?? [element.selectionStart, element.selectionEnd]
      moved.current = [moveCaret(start, delta), moveCaret(end, delta)]
    })
  }, [area, nodeId, param])
  useLayoutEffect(() => {
    if (!moved.current || !area.current) return
    area.current.setSelectionRange(...moved.current)
    moved.current = null
  })
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
  const [failure, setFailure] = useState<string | null>(null)
  useEffect(() => {
    credentials ??= api.credentials()
    credentials.then(setItems, (error: Error) => {
      credentials = null // asked again next time
      setFailure(error.message)
    })
  }, [])
  const current = typeof value === 'string' ? value : ''
  const known = items?.some((item) => item.id === current)
  return (
    <>
      <select aria-label={label} value={current} onChange={(event) => onChange(event.target.value || undefined)}>
        <option value="">— choose a credential —</option>
        {current && !known && <option value={current}>{items ? `${current} (not found)` : current}</option>}
        {items?.map((item) => (
          <option key={item.id} value={item.id}>
            {item.name} · {item.kind}
          </option>
        ))}
      </select>
      {failure && (
        <div className="field-error" role="alert">
          The credentials could not be read: {failure}
        </div>
      )}
    </>
  )
}
