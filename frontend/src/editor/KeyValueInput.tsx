// An object param (`core.set`'s values, HTTP headers) as rows of name and value: add,
// remove and reorder rows; each value a template input with suggestions, or JSON for
// numbers, lists and objects. A switch shows the whole object as raw JSON instead.
// The rows are kept here while they do not make an object yet (a name typed twice, JSON
// half typed); the param changes whenever they do.
import { useEffect, useRef, useState } from 'react'
import { editableAsRows, moveRow, objectOf, rowsMatch, rowsOf, type KeyValueRow, type RowProblems } from '../lib/keyValue'
import { parseJson, type Field } from '../lib/schemaForm'
import { JsonInput, TemplateInput } from './inputs'

interface Row extends KeyValueRow {
  /** Stable while rows move, so that each input keeps its caret. */
  id: number
}

interface Props {
  field: Field
  value: unknown
  onChange: (value: unknown) => void
}

export function KeyValueInput({ field, value, onChange }: Props) {
  const ids = useRef(0)
  const withIds = (rows: KeyValueRow[]): Row[] => rows.map((row) => ({ ...row, id: ids.current++ }))
  const [rows, setRows] = useState<Row[]>(() => withIds(rowsOf(value)))
  const [problems, setProblems] = useState<RowProblems>({})
  const [raw, setRaw] = useState(!editableAsRows(value))
  const [added, setAdded] = useState<number | null>(null)

  // A change from outside (undo, the JSON view) is shown anew.
  useEffect(() => {
    if (rowsMatch(rows, value)) return
    setRows(withIds(rowsOf(value)))
    setProblems({})
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value])

  const change = (next: Row[]) => {
    setRows(next)
    const made = objectOf(next)
    if ('problems' in made) return setProblems(made.problems)
    setProblems({})
    onChange(Object.keys(made.value).length || field.required ? made.value : undefined)
  }
  const update = (index: number, patch: Partial<KeyValueRow>) => change(rows.map((row, i) => (i === index ? { ...row, ...patch } : row)))
  const switchType = (index: number) => {
    const row = rows[index]
    const parsed = parseJson(row.text)
    // JSON back to text keeps a string's content; text to JSON keeps what was typed.
    const text = row.json && 'value' in parsed && typeof parsed.value === 'string' ? parsed.value : row.text
    update(index, { json: !row.json, text })
  }
  const addRow = () => {
    const [row] = withIds([{ name: '', text: '', json: false }])
    setRows([...rows, row])
    setAdded(row.id)
  }
  const label = (what: string, index: number) => `${field.title}: ${what} ${index + 1}`

  const modes = (
    <div className="kv-modes" role="group" aria-label={`${field.title} as`}>
      <button className={raw ? '' : 'active'} aria-pressed={!raw} disabled={!editableAsRows(value)} onClick={() => setRaw(false)} title="Edit as rows of name and value">
        Fields
      </button>
      <button className={raw ? 'active' : ''} aria-pressed={raw} onClick={() => setRaw(true)} title="Edit the whole object as JSON">
        JSON
      </button>
    </div>
  )
  if (raw) {
    return (
      <div className="kv-input" data-testid={`kv-${field.key}`}>
        <JsonInput label={field.title} value={value} placeholder='{"name": "value"}' onChange={onChange} />
        <div className="kv-foot">{modes}</div>
      </div>
    )
  }
  return (
    <div className="kv-input" data-testid={`kv-${field.key}`}>
      {rows.map((row, index) => (
        <div className={`kv-row${problems[index] ? ' has-error' : ''}`} key={row.id}>
          <div className="kv-row-head">
            <input className="kv-name" autoFocus={row.id === added} aria-label={label('name', index)} placeholder="name" value={row.name} spellCheck={false} onChange={(event) => update(index, { name: event.target.value })} />
            {!field.textValues && (
              <button className={`icon kv-type${row.json ? ' active' : ''}`} aria-pressed={row.json} aria-label={`${label('value', index)} is JSON`} title={row.json ? 'The value is JSON (a number, true/false, a list, an object): click for text' : 'The value is text (templates allowed): click for JSON'} onClick={() => switchType(index)}>
                {'{}'}
              </button>
            )}
            <button className="icon" aria-label={`Move ${label('row', index)} up`} title="Move up" disabled={index === 0} onClick={() => change(moveRow(rows, index, -1))}>
              ↑
            </button>
            <button className="icon" aria-label={`Move ${label('row', index)} down`} title="Move down" disabled={index === rows.length - 1} onClick={() => change(moveRow(rows, index, 1))}>
              ↓
            </button>
            <button className="icon" aria-label={`Remove ${label('row', index)}`} title="Remove" onClick={() => change(rows.filter((_, i) => i !== index))}>
              ×
            </button>
          </div>
          <TemplateInput label={label('value', index)} value={row.text} placeholder={row.json ? 'JSON: 3, true, [1, 2], {"a": 1}' : 'value, or a {{ template }}'} onChange={(text) => update(index, { text })} />
          {problems[index] && <div className="field-error">{problems[index]}</div>}
        </div>
      ))}
      <div className="kv-foot">
        <button className="small" onClick={addRow}>
          + Add a value
        </button>
        {modes}
      </div>
    </div>
  )
}
