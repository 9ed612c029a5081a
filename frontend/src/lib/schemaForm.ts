// A node's settings form, generated from its type's params JSON Schema (Pydantic's
// output: `$defs`/`$ref`, `anyOf [X, null]` for optional values). Pure: the fields say
// what to render; ParamForm renders them.
import type { JsonSchema } from '../api/types'

export type FieldKind =
  | 'text' // a string; may hold {{ }} templates
  | 'number'
  | 'integer'
  | 'boolean'
  | 'enum'
  | 'credential' // the id of a stored credential
  | 'string-list'
  | 'object-list' // a list of small objects with their own fields
  | 'json' // objects, lists of anything, values of any type

export interface Field {
  key: string
  title: string
  description: string
  kind: FieldKind
  required: boolean
  nullable: boolean
  default?: unknown
  options?: unknown[]
  minimum?: number
  maximum?: number
  multiline?: boolean
  itemFields?: Field[]
  /** The schema's `format` of a text, e.g. `cron` (the editor previews its fire times). */
  format?: string
}

const MULTILINE = /prompt|system|message|body|condition|instructions|template|text|value/i

export function fieldsFromSchema(schema: JsonSchema, root: JsonSchema = schema): Field[] {
  const properties = (resolve(schema, root).properties ?? {}) as Record<string, JsonSchema>
  const required = new Set((resolve(schema, root).required ?? []) as string[])
  return Object.entries(properties).map(([key, property]) => fieldFor(key, property, required.has(key), root))
}

function fieldFor(key: string, raw: JsonSchema, required: boolean, root: JsonSchema): Field {
  const { schema, nullable } = unwrapNullable(resolve(raw, root), root)
  const field: Field = {
    key,
    title: (raw.title as string) ?? (schema.title as string) ?? humanize(key),
    description: (raw.description as string) ?? (schema.description as string) ?? '',
    kind: kindOf(key, schema, root),
    required,
    nullable,
  }
  if ('default' in raw) field.default = raw.default
  if (Array.isArray(schema.enum)) field.options = schema.enum
  if (typeof schema.minimum === 'number') field.minimum = schema.minimum
  if (typeof schema.maximum === 'number') field.maximum = schema.maximum
  if (field.kind === 'text') field.multiline = MULTILINE.test(key)
  if (field.kind === 'text' && typeof schema.format === 'string') field.format = schema.format
  if (field.kind === 'object-list') field.itemFields = fieldsFromSchema(resolve(schema.items as JsonSchema, root), root)
  return field
}

function kindOf(key: string, schema: JsonSchema, root: JsonSchema): FieldKind {
  if (isCredential(key, schema)) return 'credential'
  if (Array.isArray(schema.enum)) return 'enum'
  switch (schema.type) {
    case 'string':
      return 'text'
    case 'number':
      return 'number'
    case 'integer':
      return 'integer'
    case 'boolean':
      return 'boolean'
    case 'array': {
      const items = resolve((schema.items as JsonSchema) ?? {}, root)
      if (items.type === 'string' && !Array.isArray(items.enum)) return 'string-list'
      if (items.type === 'object' && items.properties && simpleObject(items, root)) return 'object-list'
      return 'json'
    }
    default:
      return 'json'
  }
}

export function isCredential(key: string, schema: JsonSchema): boolean {
  return (
    schema.format === 'credential' ||
    schema['x-credential'] === true ||
    ((key === 'credential' || key.endsWith('_credential')) && (schema.type === 'string' || schema.type === undefined))
  )
}

/** Objects whose every field is a scalar: edited as rows of inputs. */
function simpleObject(schema: JsonSchema, root: JsonSchema): boolean {
  return Object.values(schema.properties as Record<string, JsonSchema>).every((property) => {
    const kind = kindOf('', unwrapNullable(resolve(property, root), root).schema, root)
    return kind !== 'json' && kind !== 'object-list' && kind !== 'string-list'
  })
}

export function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema?.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema ?? {}
  let target: unknown = root
  for (const part of ref.slice(2).split('/')) target = (target as JsonSchema)?.[part]
  return { ...(target as JsonSchema), ...omit(schema, '$ref') }
}

function unwrapNullable(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const options = schema.anyOf as JsonSchema[] | undefined
  if (!Array.isArray(options)) return { schema, nullable: false }
  const rest = options.filter((option) => option.type !== 'null')
  const nullable = rest.length < options.length
  return rest.length === 1 ? { schema: { ...omit(schema, 'anyOf'), ...resolve(rest[0], root) }, nullable } : { schema: {}, nullable }
}

function omit(schema: JsonSchema, key: string): JsonSchema {
  const { [key]: _, ...rest } = schema
  return rest
}

export function humanize(key: string): string {
  const words = key.replace(/_/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** The number typed in a numeric field: a number, a template kept as text, or
 * undefined for an empty field (the param is then left out). */
export function parseNumber(text: string, integer: boolean): number | string | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  const value = Number(trimmed)
  if (Number.isFinite(value) && (!integer || Number.isInteger(value))) return value
  return trimmed
}

/** A JSON field's text, parsed; `{ error }` while it is not valid JSON. */
export function parseJson(text: string): { value: unknown } | { error: string } {
  if (text.trim() === '') return { value: undefined }
  try {
    return { value: JSON.parse(text) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}
