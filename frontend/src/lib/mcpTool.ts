// A workflow offered as an MCP tool (docs/reference/mcp.md): its tool name and input schema
// as the workflow's settings edit them, checked as the server checks them on save, and the
// run form the input schema makes when it is the flat subset the approval form renders
// (./approvalForm). Pure: ../editor/WorkflowSettings and ../editor/RunDialog render it.
import type { JsonSchema } from '../api/types'
import { formFields, type FormField, type FormValues } from './approvalForm'

/** As the server's TOOL_NAME_PATTERN (tav.core.workflow). */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/
const FLAT_TYPES = new Set(['string', 'number', 'integer', 'boolean'])
/** Keywords of a property that the form renders or that do not change what it takes. */
const FIELD_KEYWORDS = new Set(['type', 'title', 'description', 'default', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'format', 'examples'])
const FORMATS = new Set(['email', 'date', 'uri', 'textarea'])

/** Why a tool name is refused, or null. */
export function toolNameProblem(name: string): string | null {
  if (name === '') return 'is required'
  if ([...name].length > 128) return 'must be at most 128 characters long'
  if (!TOOL_NAME.test(name)) return 'may hold only letters, digits, _, - and .'
  return null
}

/** The input schema typed as JSON text: an object schema, none (empty text), or why not. */
export function parseInputSchema(text: string): { value: JsonSchema | null } | { error: string } {
  if (text.trim() === '') return { value: null }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { error: `Not valid JSON: ${(error as Error).message}` }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'Must be a JSON object (a JSON Schema)' }
  const type = (value as JsonSchema).type
  if (type !== undefined && type !== 'object') return { error: 'Must be the schema of an object: "type": "object"' }
  return { value: value as JsonSchema }
}

/** The input schema as the text area shows it. */
export function schemaText(schema: JsonSchema | null | undefined): string {
  return schema ? JSON.stringify(schema, null, 2) : ''
}

/** The run form's fields when the schema is a flat object of strings, numbers, integers
 * and booleans that the form can take in full; null: the input is typed as JSON. */
export function runFormFields(schema: JsonSchema | null | undefined): FormField[] | null {
  if (!schema || (schema.type !== undefined && schema.type !== 'object')) return null
  const properties = schema.properties
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return null
  const entries = Object.values(properties as Record<string, unknown>)
  if (entries.length === 0) return null
  for (const property of entries) {
    if (typeof property !== 'object' || property === null) return null
    const keys = Object.keys(property)
    if (keys.some((key) => !FIELD_KEYWORDS.has(key))) return null
    const { type, format, enum: options } = property as JsonSchema
    if (typeof type !== 'string' || !FLAT_TYPES.has(type)) return null
    if (format !== undefined && !(typeof format === 'string' && FORMATS.has(format))) return null
    if (options !== undefined && !Array.isArray(options)) return null
  }
  return formFields(schema)
}

/** The form's values for an input typed as JSON (what a switch from JSON to the form
 * keeps): each field's value where it has one of the field's kind, else its default. */
export function valuesOf(fields: readonly FormField[], input: unknown): FormValues {
  const data = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {}
  const values: FormValues = {}
  for (const field of fields) {
    const value = field.name in data ? data[field.name] : field.default
    if (field.type === 'boolean') values[field.name] = value === true
    else values[field.name] = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : ''
  }
  return values
}
