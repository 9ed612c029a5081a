// The form of an approval (`core.wait`, mode `approval`): its `fields`, a flat JSON Schema
// object of strings, numbers, integers and booleans (docs/reference/waits.md#approval), as
// fields to render, the values typed into them, the answer they make, and its problems,
// checked as the server checks them (tav.core.forms) so that a person sees each problem
// next to its field before anything is sent. Pure: ../waits/ApprovalForm renders it.
//
// Rejected: a JSON Schema form library (react-jsonschema-form and its validator). The
// server accepts only this small subset and refuses any other keyword when the workflow is
// saved, so a general renderer would bring a validator, a theme and tens of kilobytes for
// five keywords, and its messages (JSON pointers) would not be the server's, which name the
// field a person filled in.
import type { JsonSchema } from '../api/types'

export type FieldType = 'string' | 'number' | 'integer' | 'boolean'
export type Choice = string | number | boolean

export interface FormField {
  name: string
  title: string
  description: string
  type: FieldType
  required: boolean
  default?: Choice
  /** `enum`: the field is a choice of these. */
  options?: Choice[]
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  /** `email`, `date`, `uri`, or `textarea` for a long text. */
  format?: string
}

/** What the inputs hold: text (a text box, a number box, a choice by its text), or a
 * checkbox's state. */
export type FormValues = Record<string, string | boolean>

/** One problem with an answer, by field: the shape of the server's 422 `form_invalid`. */
export interface FieldProblem {
  field: string
  message: string
}

/** As the server's: a text field without `maxLength` takes at most this many characters. */
export const MAX_TEXT = 10_000
const TYPES: readonly FieldType[] = ['string', 'number', 'integer', 'boolean']
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/
const URI = /^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

/** The form's fields, in the schema's order; none for an approval without a form. A
 * property of a type the form cannot show (the server refuses those when the workflow is
 * saved) is shown as text. */
export function formFields(schema: JsonSchema | null | undefined): FormField[] {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>
  const required = new Set(Array.isArray(schema?.required) ? (schema.required as string[]) : [])
  return Object.entries(properties).map(([name, property]) => {
    const field: FormField = {
      name,
      title: typeof property.title === 'string' && property.title ? property.title : name,
      description: typeof property.description === 'string' ? property.description : '',
      type: TYPES.includes(property.type as FieldType) ? (property.type as FieldType) : 'string',
      required: required.has(name),
    }
    if (isChoice(property.default)) field.default = property.default
    if (Array.isArray(property.enum)) field.options = property.enum.filter(isChoice)
    for (const key of ['minimum', 'maximum', 'minLength', 'maxLength'] as const) {
      if (typeof property[key] === 'number') field[key] = property[key] as number
    }
    if (typeof property.format === 'string') field.format = property.format
    return field
  })
}

function isChoice(value: unknown): value is Choice {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

/** The values a form opens with: each field's default, else empty (a checkbox unticked). */
export function initialValues(fields: readonly FormField[]): FormValues {
  const values: FormValues = {}
  for (const field of fields) {
    if (field.type === 'boolean') values[field.name] = field.default === true
    else values[field.name] = field.default === undefined ? '' : String(field.default)
  }
  return values
}

/** The answer the values make, each field as its type: a number box's text as a number
 * (text that is no number is kept, for `check` to refuse naming the field), a choice as the
 * option it shows; a field left empty is left out (the server then takes its default). */
export function answerOf(fields: readonly FormField[], values: FormValues): Record<string, unknown> {
  const data: Record<string, unknown> = {}
  for (const field of fields) {
    const value = values[field.name]
    if (field.type === 'boolean') {
      data[field.name] = value === true
      continue
    }
    const text = typeof value === 'string' ? value : ''
    if (field.options) {
      const chosen = field.options.find((option) => String(option) === text)
      if (chosen !== undefined) data[field.name] = chosen
    } else if (field.type === 'string') {
      if (text !== '') data[field.name] = text
    } else if (text.trim() !== '') {
      const number = Number(text.trim())
      data[field.name] = Number.isFinite(number) ? number : text
    }
  }
  return data
}

/** Every problem with `data` as an answer to the form, as the server words it; none: the
 * answer is good. A field left out takes its default. */
export function check(fields: readonly FormField[], data: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = []
  for (const field of fields) {
    const value = field.name in data ? data[field.name] : field.default
    if (value === undefined || value === null || value === '') {
      if (field.required) problems.push({ field: field.name, message: 'is required' })
      continue
    }
    const problem = valueProblem(field, value)
    if (problem) problems.push({ field: field.name, message: problem })
  }
  return problems
}

/** Why `value` does not fit the field, or null. */
export function valueProblem(field: FormField, value: unknown): string | null {
  const isNumber = typeof value === 'number' && Number.isFinite(value)
  if (field.type === 'boolean') return typeof value === 'boolean' ? null : 'must be true or false'
  if (field.type === 'integer' && !(isNumber && Number.isInteger(value))) return 'must be a whole number'
  if (field.type === 'number' && !isNumber) return 'must be a number'
  if (field.type === 'string' && typeof value !== 'string') return 'must be text'
  if (field.options && !field.options.includes(value as Choice)) return `must be one of ${field.options.map(quoted).join(', ')}`
  if (typeof value === 'string') return textProblem(field, value)
  if (field.minimum !== undefined && (value as number) < field.minimum) return `must be at least ${field.minimum}`
  if (field.maximum !== undefined && (value as number) > field.maximum) return `must be at most ${field.maximum}`
  return null
}

function textProblem(field: FormField, value: string): string | null {
  // The server counts code points, as Python's len() does.
  const length = [...value].length
  if (field.minLength !== undefined && length < field.minLength) return `must be at least ${field.minLength} characters long`
  const most = field.maxLength ?? MAX_TEXT
  if (length > most) return `must be at most ${most} characters long`
  if (field.format === 'email' && !EMAIL.test(value)) return 'must be an email address'
  if (field.format === 'uri' && !URI.test(value)) return 'must be a URL'
  if (field.format === 'date' && !isDate(value)) return 'must be a date (YYYY-MM-DD)'
  return null
}

function isDate(value: string): boolean {
  if (!DATE.test(value)) return false
  const [year, month, day] = value.split('-').map(Number)
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

function quoted(choice: Choice): string {
  return typeof choice === 'string' ? `'${choice}'` : String(choice)
}

/** Problems by field (the first of each), for the messages shown next to the fields; a
 * problem that names no field of the form (`data`, or a field the form does not show)
 * goes under `''`. */
export function problemsByField(problems: readonly FieldProblem[], fields: readonly FormField[]): Record<string, string> {
  const names = new Set(fields.map((field) => field.name))
  const byField: Record<string, string> = {}
  for (const { field, message } of problems) {
    const key = names.has(field) ? field : ''
    const text = key ? message : `${field}: ${message}`
    byField[key] = byField[key] ? (key ? byField[key] : `${byField[key]}; ${text}`) : text
  }
  return byField
}
