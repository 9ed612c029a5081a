import { describe, expect, it } from 'vitest'
import type { CredentialKind } from '../api/types'
import { credentialData, credentialFields, fieldProblems } from './credentialForm'

// As GET /api/v1/credentials/kinds returns the smtp kind.
const smtp: CredentialKind = {
  kind: 'smtp',
  description: 'An SMTP server to send mail through.',
  secret_fields: ['password'],
  schema: {
    type: 'object',
    required: ['host'],
    properties: {
      host: { type: 'string', minLength: 1, title: 'Host' },
      port: { type: 'integer', default: 587, title: 'Port' },
      username: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null, title: 'Username' },
      password: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'null' }], default: null, secret: true, writeOnly: true, title: 'Password' },
      starttls: { type: 'boolean', default: true, title: 'Starttls' },
    },
  },
  provider: null, // not an LLM provider
}
const fields = credentialFields(smtp)

describe('the credential form', () => {
  it('marks secret fields', () => {
    expect(fields.filter((f) => f.secret).map((f) => f.key)).toEqual(['password'])
    expect(credentialFields({ ...smtp, secret_fields: [] }).filter((f) => f.secret).map((f) => f.key)).toEqual(['password'])
    expect(fields.find((f) => f.key === 'port')?.kind).toBe('integer')
  })

  it('creates with what was typed, and needs the required fields', () => {
    expect(credentialData(fields, {}, null)).toEqual({ problems: { host: 'required' } })
    const draft = { host: { text: 'smtp.example.org' }, port: { text: '25' }, password: { text: 's3cret' }, starttls: { flag: false } }
    expect(credentialData(fields, draft, null)).toEqual({ data: { host: 'smtp.example.org', port: 25, password: 's3cret', starttls: false } })
    expect(credentialData(fields, { host: { text: 'h' }, port: { text: 'x' } }, null)).toEqual({ problems: { port: 'not a whole number' } })
  })

  it('edits only what was typed or cleared; the rest keeps its stored value', () => {
    const stored = ['host', 'port', 'password']
    expect(credentialData(fields, {}, stored)).toEqual({ data: {} })
    expect(credentialData(fields, { password: { text: 'new' } }, stored)).toEqual({ data: { password: 'new' } })
    expect(credentialData(fields, { password: { clear: true } }, stored)).toEqual({ data: { password: null } })
    expect(credentialData(fields, { host: { clear: true } }, stored)).toEqual({ problems: { host: 'required: it cannot be cleared' } })
  })

  it('places the problems of a 422 answer on their fields', () => {
    expect(fieldProblems([{ location: 'body.data.port', message: 'too big' }, { location: 'body.name', message: 'taken' }])).toEqual({ port: 'too big', name: 'taken' })
  })
})
