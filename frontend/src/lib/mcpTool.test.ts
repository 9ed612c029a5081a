import { describe, expect, it } from 'vitest'
import { answerOf } from './approvalForm'
import { parseInputSchema, runFormFields, schemaText, toolNameProblem, valuesOf } from './mcpTool'

const ORDER = {
  type: 'object',
  properties: {
    item: { type: 'string', description: 'What to order.' },
    quantity: { type: 'integer', minimum: 1 },
    gift: { type: 'boolean', default: false },
  },
  required: ['item', 'quantity'],
}

describe('a tool name', () => {
  it('is 1 to 128 letters, digits, _, - and .', () => {
    expect(toolNameProblem('place_order')).toBeNull()
    expect(toolNameProblem('a.b-C_9')).toBeNull()
    expect(toolNameProblem('x'.repeat(128))).toBeNull()
    expect(toolNameProblem('')).toBe('is required')
    expect(toolNameProblem('x'.repeat(129))).toBe('must be at most 128 characters long')
    expect(toolNameProblem('place order')).toBe('may hold only letters, digits, _, - and .')
    expect(toolNameProblem('commande_é')).toBe('may hold only letters, digits, _, - and .')
    expect(toolNameProblem('a/b')).not.toBeNull()
  })
})

describe('an input schema typed as JSON', () => {
  it('is an object schema, or none when empty', () => {
    expect(parseInputSchema(JSON.stringify(ORDER))).toEqual({ value: ORDER })
    expect(parseInputSchema('{"properties": {}}')).toEqual({ value: { properties: {} } })
    expect(parseInputSchema('  ')).toEqual({ value: null })
  })

  it('is refused when it is no JSON, no object or the schema of something else', () => {
    expect(parseInputSchema('{"type": ')).toMatchObject({ error: expect.stringMatching(/^Not valid JSON: /) })
    expect(parseInputSchema('[1]')).toEqual({ error: 'Must be a JSON object (a JSON Schema)' })
    expect(parseInputSchema('"object"')).toEqual({ error: 'Must be a JSON object (a JSON Schema)' })
    expect(parseInputSchema('{"type": "array"}')).toEqual({ error: 'Must be the schema of an object: "type": "object"' })
  })

  it('is shown indented, and none as empty text', () => {
    expect(schemaText({ type: 'object' })).toBe('{\n  "type": "object"\n}')
    expect(schemaText(null)).toBe('')
    expect(schemaText(undefined)).toBe('')
  })
})

describe('the run form of an input schema', () => {
  it('has a field per property of a flat schema', () => {
    const fields = runFormFields(ORDER)!
    expect(fields.map((field) => [field.name, field.type, field.required])).toEqual([
      ['item', 'string', true],
      ['quantity', 'integer', true],
      ['gift', 'boolean', false],
    ])
  })

  it('is none when the form could not take the input in full', () => {
    expect(runFormFields(null)).toBeNull()
    expect(runFormFields({ type: 'object' })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } } } })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { to: { type: 'object' } } })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { id: { type: 'string', pattern: '^a' } } })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { at: { type: 'string', format: 'date-time' } } })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { any: {} } })).toBeNull()
    expect(runFormFields({ type: 'object', properties: { n: { type: ['string', 'null'] } } })).toBeNull()
  })

  it('opens on the input typed as JSON, which its answer gives back', () => {
    const fields = runFormFields(ORDER)!
    const values = valuesOf(fields, { item: 'tea', quantity: 3, gift: true, other: 1 })
    expect(values).toEqual({ item: 'tea', quantity: '3', gift: true })
    expect(answerOf(fields, values)).toEqual({ item: 'tea', quantity: 3, gift: true })
    expect(valuesOf(fields, null)).toEqual({ item: '', quantity: '', gift: false })
    expect(valuesOf(fields, { item: { nested: 1 } })).toEqual({ item: '', quantity: '', gift: false })
  })
})
