import { describe, expect, it } from 'vitest'
import { fieldsFromSchema, humanize, parseJson, parseNumber } from './schemaForm'
import { hasTemplate, templateSegments } from './templates'

// As Pydantic writes them (see GET /api/v1/nodes).
const http = {
  type: 'object',
  required: ['url'],
  properties: {
    method: { default: 'GET', enum: ['GET', 'POST'], title: 'Method', type: 'string' },
    url: { description: 'Absolute http(s) URL.', title: 'Url', type: 'string' },
    headers: { additionalProperties: { type: 'string' }, title: 'Headers', type: 'object' },
    json: { default: null, title: 'Json' },
    body: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null, title: 'Body' },
    timeout_s: { default: 30, exclusiveMinimum: 0, title: 'Timeout S', type: 'number' },
    fail_on_status: { default: true, title: 'Fail On Status', type: 'boolean' },
  },
}

const llm = {
  $defs: {
    ModelRef: {
      type: 'object',
      required: ['credential', 'model'],
      properties: {
        credential: { title: 'Credential', type: 'string', minLength: 1 },
        model: { title: 'Model', type: 'string' },
      },
    },
  },
  type: 'object',
  properties: {
    prompt: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null, title: 'Prompt' },
    models: { items: { $ref: '#/$defs/ModelRef' }, title: 'Models', type: 'array' },
    temperature: { anyOf: [{ maximum: 2, minimum: 0, type: 'number' }, { type: 'null' }], default: null },
    cases: { items: { type: 'string' }, type: 'array', minItems: 1 },
    api_credential: { type: 'string' },
    concurrency: { type: 'integer', minimum: 1, maximum: 1000, default: 8 },
  },
}

describe('forms from params schemas', () => {
  it("knows an MCP tool param and the param naming its server", () => {
    const schema = {
      type: 'object',
      properties: {
        credential: { type: 'string', minLength: 1 },
        tool: { type: 'string', format: 'mcp-tool', 'x-credential-param': 'credential', description: "The tool's name." },
      },
    }
    const [credential, tool] = fieldsFromSchema(schema)
    expect(credential.kind).toBe('credential')
    expect(tool).toMatchObject({ kind: 'text', format: 'mcp-tool', credentialParam: 'credential', multiline: false })
  })

  it('picks an input for each type', () => {
    const kinds = Object.fromEntries(fieldsFromSchema(http).map((f) => [f.key, f.kind]))
    expect(kinds).toEqual({ method: 'enum', url: 'text', headers: 'key-value', json: 'json', body: 'text', timeout_s: 'number', fail_on_status: 'boolean' })
  })

  it('edits objects of any keys as rows of name and value, text only where the schema says so', () => {
    const schema = {
      type: 'object',
      properties: {
        values: { additionalProperties: true, default: {}, title: 'Values', type: 'object' },
        headers: { additionalProperties: { type: 'string' }, title: 'Headers', type: 'object' },
        metadata: { anyOf: [{ additionalProperties: true, type: 'object' }, { type: 'null' }], default: null },
        counts: { additionalProperties: { type: 'integer' }, type: 'object' },
        fixed: { additionalProperties: false, type: 'object' },
      },
    }
    const fields = Object.fromEntries(fieldsFromSchema(schema).map((f) => [f.key, f]))
    expect(fields.values).toMatchObject({ kind: 'key-value', textValues: false })
    expect(fields.headers).toMatchObject({ kind: 'key-value', textValues: true })
    expect(fields.metadata).toMatchObject({ kind: 'key-value', nullable: true })
    expect(fields.counts.kind).toBe('json')
    expect(fields.fixed.kind).toBe('json')
  })

  it('labels fields in sentence case, keeping the titles a node gives', () => {
    const schema = {
      type: 'object',
      properties: {
        api_key: { title: 'Api Key', type: 'string' },
        base_url: { title: 'Base Url', type: 'string' },
        timeout_s: { title: 'Timeout S', type: 'number' },
        fail_on_status: { title: 'Fail On Status', type: 'boolean' },
        mime_type: { type: 'string' },
        thread_ts: { type: 'string' },
        prompt: { title: 'What to ask', type: 'string' },
      },
    }
    expect(fieldsFromSchema(schema).map((f) => f.title)).toEqual(['API key', 'Base URL', 'Timeout (s)', 'Fail on status', 'MIME type', 'Thread TS', 'What to ask'])
    expect(humanize('s')).toBe('S')
  })

  it('keeps titles, descriptions, defaults, options and what is required', () => {
    const [method, url] = fieldsFromSchema(http)
    expect(method).toMatchObject({ title: 'Method', default: 'GET', options: ['GET', 'POST'], required: false })
    expect(url).toMatchObject({ description: 'Absolute http(s) URL.', required: true })
  })

  it('unwraps optional values and resolves $refs', () => {
    const fields = Object.fromEntries(fieldsFromSchema(llm).map((f) => [f.key, f]))
    expect(fields.prompt).toMatchObject({ kind: 'text', nullable: true, multiline: true })
    expect(fields.temperature).toMatchObject({ kind: 'number', nullable: true, minimum: 0, maximum: 2, title: 'Temperature' })
    expect(fields.concurrency).toMatchObject({ kind: 'integer', default: 8 })
    expect(fields.cases.kind).toBe('string-list')
  })

  it('edits lists of small objects row by row, with credential pickers', () => {
    const models = fieldsFromSchema(llm).find((f) => f.key === 'models')
    expect(models?.kind).toBe('object-list')
    expect(models?.itemFields?.map((f) => [f.key, f.kind, f.required])).toEqual([
      ['credential', 'credential', true],
      ['model', 'text', true],
    ])
    expect(fieldsFromSchema(llm).find((f) => f.key === 'api_credential')?.kind).toBe('credential')
  })

  it('reads numbers, and keeps templates in numeric fields as text', () => {
    expect(parseNumber('2.5', false)).toBe(2.5)
    expect(parseNumber('', false)).toBeUndefined()
    expect(parseNumber('2.5', true)).toBe('2.5')
    expect(parseNumber('{{ vars.n }}', true)).toBe('{{ vars.n }}')
  })

  it('parses JSON fields and says why they are not valid', () => {
    expect(parseJson('{"a": [1]}')).toEqual({ value: { a: [1] } })
    expect('error' in parseJson('{"a": ')).toBe(true)
  })

  it('keeps the format of a text, such as a cron expression', () => {
    const schedule = {
      type: 'object',
      properties: { cron: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'null' }], default: null, format: 'cron', title: 'Cron' } },
    }
    const [cron] = fieldsFromSchema(schedule)
    expect(cron.kind).toBe('text')
    expect(cron.format).toBe('cron')
    expect(fieldsFromSchema(http).every((field) => field.format === undefined)).toBe(true)
  })

  it('gives a text area to a long text, whatever its name', () => {
    const script = { type: 'object', properties: { source: { anyOf: [{ type: 'string', format: 'code' }, { type: 'null' }] }, label: { type: 'string' } } }
    const [source, label] = fieldsFromSchema(script)
    expect(source).toMatchObject({ kind: 'text', format: 'code', multiline: true })
    expect(label.multiline).toBe(false)
  })
})

describe('template highlighting', () => {
  it('splits text into plain and template segments', () => {
    expect(templateSegments('Hi {{ trigger.name }}, {% if x %}!')).toEqual([
      { text: 'Hi ', template: false },
      { text: '{{ trigger.name }}', template: true },
      { text: ', ', template: false },
      { text: '{% if x %}', template: true },
      { text: '!', template: false },
    ])
    expect(hasTemplate('plain {{ no')).toBe(false)
  })
})
