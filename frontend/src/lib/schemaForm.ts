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
  | 'key-value' // an object of any keys (`dict[str, ...]`): rows of name and value
  | 'json' // lists of anything, values of any type

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
  /** For `key-value`: the values are strings only (`dict[str, str]`), never JSON. */
  textValues?: boolean
  /** The schema's `format` of a text, e.g. `cron` (the editor previews its fire times), or
   * `mcp-tool` (a tool of the MCP server another param names: the editor offers them). */
  format?: string
  /** For `mcp-tool`: the param holding the MCP server's credential. */
  credentialParam?: string
}

const MULTILINE = /prompt|system|message|body|condition|instructions|template|text|value/i
/** The `format` a node type gives a long text param (tav.nodes.params): a prompt, a
 * message, a template or code. It gets a text area, and the live draft keeps it as shared
 * text that two people can type into at once. */
export const LONG_TEXT_FORMATS: ReadonlySet<string> = new Set(['multiline', 'template', 'code'])

export function fieldsFromSchema(schema: JsonSchema, root: JsonSchema = schema): Field[] {
  const properties = (resolve(schema, root).properties ?? {}) as Record<string, JsonSchema>
  const required = new Set((resolve(schema, root).required ?? []) as string[])
  return Object.entries(properties).map(([key, property]) => fieldFor(key, property, required.has(key), root))
}

function fieldFor(key: string, raw: JsonSchema, required: boolean, root: JsonSchema): Field {
  const { schema, nullable } = unwrapNullable(resolve(raw, root), root)
  const field: Field = {
    key,
    title: titleOf(key, raw, schema),
    description: (raw.description as string) ?? (schema.description as string) ?? '',
    kind: kindOf(key, schema, root),
    required,
    nullable,
  }
  if ('default' in raw) field.default = raw.default
  if (Array.isArray(schema.enum)) field.options = schema.enum
  if (typeof schema.minimum === 'number') field.minimum = schema.minimum
  if (typeof schema.maximum === 'number') field.maximum = schema.maximum
  if (field.kind === 'text' && typeof schema.format === 'string') field.format = schema.format
  if (field.kind === 'text') field.multiline = (MULTILINE.test(key) && field.format !== 'mcp-tool') || LONG_TEXT_FORMATS.has(field.format ?? '')
  if (typeof schema['x-credential-param'] === 'string') field.credentialParam = schema['x-credential-param']
  if (field.kind === 'object-list') field.itemFields = fieldsFromSchema(resolve(schema.items as JsonSchema, root), root)
  if (field.kind === 'key-value') field.textValues = isSchema(schema.additionalProperties) && schema.additionalProperties.type === 'string'
  return field
}

/** A field's label: the schema's title, unless it is only the key in title case (what
 * Pydantic writes when the model gives none), which is said in sentence case instead. */
function titleOf(key: string, raw: JsonSchema, schema: JsonSchema): string {
  const title = (raw.title as string | undefined) ?? (schema.title as string | undefined)
  return title && title !== pydanticTitle(key) ? title : humanize(key)
}

function pydanticTitle(key: string): string {
  return key
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ')
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
    case 'object':
      return mapOfAnyKeys(schema) ? 'key-value' : 'json'
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

/** An object that names none of its keys, whose values are of any type or strings. */
function mapOfAnyKeys(schema: JsonSchema): boolean {
  if (schema.properties && Object.keys(schema.properties).length) return false
  const values = schema.additionalProperties
  if (!isSchema(values)) return values !== false
  return values.type === undefined || values.type === 'string'
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null
}

/** Objects whose every field is a scalar: edited as rows of inputs. */
function simpleObject(schema: JsonSchema, root: JsonSchema): boolean {
  return Object.values(schema.properties as Record<string, JsonSchema>).every((property) => {
    const kind = kindOf('', unwrapNullable(resolve(property, root), root).schema, root)
    return kind !== 'json' && kind !== 'object-list' && kind !== 'string-list' && kind !== 'key-value'
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

// Words said in capitals in a label, and unit suffixes said in brackets.
const ACRONYMS = new Set(['ai', 'api', 'bom', 'csv', 'html', 'http', 'https', 'id', 'imap', 'json', 'llm', 'mime', 'mqtt', 'pdf', 'qos', 'smtp', 'sql', 'ssl', 'tls', 'ts', 'tts', 'uri', 'url', 'urls', 'xml'])
const UNITS: Record<string, string> = { s: '(s)', ms: '(ms)' }

/** A key as a label, in sentence case: `api_key` → "API key", `timeout_s` → "Timeout (s)". */
export function humanize(key: string): string {
  const words = key.split(/[_\s]+/).filter(Boolean)
  const said = words.map((word, index) => {
    const lower = word.toLowerCase()
    if (index > 0 && index === words.length - 1 && UNITS[lower]) return UNITS[lower]
    if (ACRONYMS.has(lower)) return lower === 'urls' ? 'URLs' : lower.toUpperCase()
    return index === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : word
  })
  return said.join(' ')
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
