// An object param (`core.set`'s `values`, HTTP headers) edited as rows of name and value.
// Pure: the rows the form shows, and the object they stand for.
//
// A value is text (a template, kept as typed) unless its row is switched to JSON, for
// numbers, booleans, lists and objects; a value that is not a string when the form opens
// starts as JSON. Rows left blank are not part of the object, so a new row can be added
// before it is filled in. Keys that are whole numbers ("1") would be put first by any
// JavaScript object, whatever the rows' order; they keep their order in the rows.
import { parseJson } from './schemaForm'

export interface KeyValueRow {
  name: string
  /** The value as typed: text, or JSON when `json`. */
  text: string
  json: boolean
}

/** Why rows do not make an object, by row index. */
export type RowProblems = Record<number, string>

/** The rows of an object, in its keys' order; none for anything that is not an object. */
export function rowsOf(value: unknown): KeyValueRow[] {
  if (!isObject(value)) return []
  return Object.entries(value).map(([name, item]) =>
    typeof item === 'string' ? { name, text: item, json: false } : { name, text: JSON.stringify(item), json: true },
  )
}

/** Whether `rowsOf` shows all of the value: an object (or nothing yet). */
export function editableAsRows(value: unknown): boolean {
  return value === undefined || value === null || isObject(value)
}

/** The object the rows stand for, or the problem of each row that keeps them from one. */
export function objectOf(rows: KeyValueRow[]): { value: Record<string, unknown> } | { problems: RowProblems } {
  const value: Record<string, unknown> = {}
  const problems: RowProblems = {}
  const seen = new Set<string>()
  rows.forEach((row, index) => {
    const name = row.name.trim()
    if (!name) {
      if (row.text.trim()) problems[index] = 'give the value a name'
      return
    }
    if (seen.has(name)) {
      problems[index] = `“${name}” is already set above`
      return
    }
    seen.add(name)
    if (!row.json) {
      value[name] = row.text
      return
    }
    const parsed = parseJson(row.text)
    if ('error' in parsed) problems[index] = `not valid JSON yet: ${parsed.error}`
    else value[name] = parsed.value ?? null
  })
  return Object.keys(problems).length ? { problems } : { value }
}

/** Whether the rows stand for `value` (so an outside change, such as an undo, can be told
 * from the rows' own). */
export function rowsMatch(rows: KeyValueRow[], value: unknown): boolean {
  const current = objectOf(rows)
  if (!('value' in current)) return false
  const other = isObject(value) ? value : {}
  return JSON.stringify(Object.entries(current.value)) === JSON.stringify(Object.entries(other))
}

/** The rows with the one at `index` moved by `by` places (-1 up, 1 down). */
export function moveRow<T>(rows: T[], index: number, by: number): T[] {
  const to = index + by
  if (to < 0 || to >= rows.length) return rows
  const next = [...rows]
  const [row] = next.splice(index, 1)
  next.splice(to, 0, row)
  return next
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
