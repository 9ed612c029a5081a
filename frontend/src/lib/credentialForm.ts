// The form of a credential, from its kind's JSON Schema (GET /credentials/kinds), and the
// `data` it sends. Values are write-only: the server says which fields are set, never what
// they hold, so an edit form starts empty and sends only the fields the user typed in (or
// cleared); every other field keeps its stored value.
import type { CredentialKind } from '../api/types'
import { fieldsFromSchema, parseJson, type Field } from './schemaForm'

export interface CredentialField extends Field {
  secret: boolean
}

/** What the user did with a field: typed text, chose a switch's value, or cleared it. */
export type FieldDraft = { text: string } | { flag: boolean } | { clear: true }
export type Draft = Record<string, FieldDraft | undefined>

/** The kind's fields; secret ones are listed in `secret_fields` and marked
 * `"secret": true` in the schema (either is enough). */
export function credentialFields(kind: CredentialKind): CredentialField[] {
  const properties = (kind.schema.properties ?? {}) as Record<string, { secret?: unknown }>
  const secret = new Set([...kind.secret_fields, ...Object.keys(properties).filter((key) => properties[key]?.secret === true)])
  // An object field is typed as JSON here: the credential form has no rows of name and value.
  return fieldsFromSchema(kind.schema).map((field) => ({ ...field, kind: field.kind === 'key-value' ? 'json' : field.kind, secret: secret.has(field.key) }))
}

/**
 * The `data` to send for `draft`, or the problem of each field that cannot be sent.
 * Creating, every required field without a default needs a value; editing (`stored` holds
 * the names of the fields that are set), untouched fields are left out so they keep their
 * value, and only optional fields can be cleared.
 */
export function credentialData(
  fields: CredentialField[],
  draft: Draft,
  stored: string[] | null,
): { data: Record<string, unknown> } | { problems: Record<string, string> } {
  const data: Record<string, unknown> = {}
  const problems: Record<string, string> = {}
  for (const field of fields) {
    const entry = draft[field.key]
    const value = entry ? fieldValue(field, entry) : { skip: true as const }
    if ('problem' in value) problems[field.key] = value.problem
    else if ('skip' in value) {
      const needed = field.required && field.default === undefined && !stored?.includes(field.key)
      if (needed) problems[field.key] = 'required'
    } else if (value.value === null && field.required) problems[field.key] = 'required: it cannot be cleared'
    else data[field.key] = value.value
  }
  return Object.keys(problems).length ? { problems } : { data }
}

function fieldValue(field: CredentialField, entry: FieldDraft): { value: unknown } | { skip: true } | { problem: string } {
  if ('clear' in entry) return { value: null }
  if ('flag' in entry) return { value: entry.flag }
  const text = field.kind === 'text' ? entry.text : entry.text.trim()
  if (text === '') return { skip: true }
  switch (field.kind) {
    case 'integer':
    case 'number': {
      const number = Number(text)
      if (!Number.isFinite(number) || (field.kind === 'integer' && !Number.isInteger(number))) return { problem: `not ${field.kind === 'integer' ? 'a whole number' : 'a number'}` }
      return { value: number }
    }
    case 'json': {
      const parsed = parseJson(text)
      return 'error' in parsed ? { problem: `not valid JSON: ${parsed.error}` } : { value: parsed.value }
    }
    default:
      return { value: text }
  }
}

/** Problems of a 422 answer, by field: `details` locate them as `body.data.<field>`. */
export function fieldProblems(details: unknown): Record<string, string> {
  const found: Record<string, string> = {}
  if (!Array.isArray(details)) return found
  for (const item of details as { location?: string; message?: string }[]) {
    const match = /^body\.data\.([^.]+)/.exec(item?.location ?? '')
    const key = match ? match[1] : (item?.location ?? '').replace(/^body\./, '')
    if (key && item.message) found[key] = item.message
  }
  return found
}
