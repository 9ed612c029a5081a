import { describe, expect, it } from 'vitest'
import { answerOf, check, formFields, initialValues, problemsByField, valueProblem, type FormField } from './approvalForm'

// The form of docs/reference/waits.md#approval, and more.
const SCHEMA = {
  type: 'object',
  properties: {
    amount: { type: 'integer', title: 'Amount approved', minimum: 1, maximum: 5000 },
    account: { type: 'string', enum: ['operations', 'marketing'] },
    urgent: { type: 'boolean', default: false },
    rate: { type: 'number', title: 'Rate', default: 1.5 },
    note: { type: 'string', format: 'textarea', maxLength: 10, description: 'Why' },
    contact: { type: 'string', format: 'email' },
    due: { type: 'string', format: 'date' },
    site: { type: 'string', format: 'uri' },
    level: { type: 'integer', enum: [1, 2, 3], default: 2 },
    code: { type: 'string', minLength: 3 },
  },
  required: ['amount', 'account'],
}
const fields = formFields(SCHEMA)
const field = (name: string): FormField => fields.find((f) => f.name === name)!

describe('the fields of an approval form', () => {
  it('come from the schema in its order, with their types, titles, choices, bounds and formats', () => {
    expect(fields.map((f) => f.name)).toEqual(['amount', 'account', 'urgent', 'rate', 'note', 'contact', 'due', 'site', 'level', 'code'])
    expect(field('amount')).toEqual({ name: 'amount', title: 'Amount approved', description: '', type: 'integer', required: true, minimum: 1, maximum: 5000 })
    expect(field('account')).toMatchObject({ title: 'account', type: 'string', required: true, options: ['operations', 'marketing'] })
    expect(field('urgent')).toMatchObject({ type: 'boolean', required: false, default: false })
    expect(field('note')).toMatchObject({ format: 'textarea', maxLength: 10, description: 'Why' })
    expect(field('level')).toMatchObject({ type: 'integer', options: [1, 2, 3], default: 2 })
  })

  it('are none for an approval without a form', () => {
    expect(formFields(null)).toEqual([])
    expect(formFields({ type: 'object' })).toEqual([])
  })

  it('open with their defaults, else empty and unticked', () => {
    expect(initialValues(fields)).toEqual({ amount: '', account: '', urgent: false, rate: '1.5', note: '', contact: '', due: '', site: '', level: '2', code: '' })
  })
})

describe('the answer a filled-in form makes', () => {
  it('has each field as its type, and leaves out what was left empty', () => {
    const values = { ...initialValues(fields), amount: '1200', account: 'marketing', urgent: true, rate: '', level: '3', note: 'ok' }
    expect(answerOf(fields, values)).toEqual({ amount: 1200, account: 'marketing', urgent: true, level: 3, note: 'ok' })
  })

  it('keeps a number box text that is no number, for the check to name its field', () => {
    expect(answerOf([field('amount')], { amount: '12abc' })).toEqual({ amount: '12abc' })
    expect(check([field('amount')], { amount: '12abc' })).toEqual([{ field: 'amount', message: 'must be a whole number' }])
  })

  it('is good when every field fits', () => {
    expect(check(fields, { amount: 5, account: 'operations' })).toEqual([])
  })
})

describe('the check of an answer, worded as the server words it', () => {
  it('names each required field left empty; a field left out takes its default', () => {
    expect(check(fields, {})).toEqual([
      { field: 'amount', message: 'is required' },
      { field: 'account', message: 'is required' },
    ])
    expect(check(fields, { amount: 3, account: 'operations', rate: undefined })).toEqual([])
  })

  it('refuses numbers out of bounds, fractions where a whole number goes, and choices not offered', () => {
    expect(valueProblem(field('amount'), 0)).toBe('must be at least 1')
    expect(valueProblem(field('amount'), 5001)).toBe('must be at most 5000')
    expect(valueProblem(field('amount'), 2.5)).toBe('must be a whole number')
    expect(valueProblem(field('rate'), 'x')).toBe('must be a number')
    expect(valueProblem(field('account'), 'sales')).toBe("must be one of 'operations', 'marketing'")
    expect(valueProblem(field('level'), 4)).toBe('must be one of 1, 2, 3')
    expect(valueProblem(field('urgent'), 'yes')).toBe('must be true or false')
  })

  it('refuses texts too long or short, and emails, dates and URLs that are none', () => {
    expect(valueProblem(field('note'), 'x'.repeat(11))).toBe('must be at most 10 characters long')
    expect(valueProblem(field('note'), '😀'.repeat(10))).toBeNull() // characters, not UTF-16 units
    expect(valueProblem(field('code'), 'ab')).toBe('must be at least 3 characters long')
    expect(valueProblem(field('contact'), 'cfo@example')).toBe('must be an email address')
    expect(valueProblem(field('contact'), 'cfo@example.com')).toBeNull()
    expect(valueProblem(field('due'), '2026-02-30')).toBe('must be a date (YYYY-MM-DD)')
    expect(valueProblem(field('due'), '2026-02-28')).toBeNull()
    expect(valueProblem(field('site'), 'example.com')).toBe('must be a URL')
    expect(valueProblem(field('site'), 'https://example.com/x')).toBeNull()
    expect(valueProblem(field('amount'), '5')).toBe('must be a whole number')
    expect(valueProblem({ name: 't', title: 't', description: '', type: 'string', required: false }, 'x'.repeat(10_001))).toBe('must be at most 10000 characters long')
  })
})

describe("the server's problems with an answer", () => {
  it('go next to their fields; one naming no field of the form goes above them', () => {
    const problems = [
      { field: 'amount', message: 'must be at least 1' },
      { field: 'amount', message: 'second' },
      { field: 'color', message: 'no such field' },
      { field: 'data', message: 'must be an object of field values' },
    ]
    expect(problemsByField(problems, fields)).toEqual({ amount: 'must be at least 1', '': 'color: no such field; data: must be an object of field values' })
  })
})
