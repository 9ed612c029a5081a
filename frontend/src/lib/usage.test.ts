import { describe, expect, it } from 'vitest'
import type { NodeResult } from '../api/types'
import { aiSummary, formatUsage } from './usage'

const result = (outputs: Record<string, unknown>, usage?: NodeResult['usage']): NodeResult => ({
  status: 'succeeded',
  attempts: 1,
  outputs,
  error: null,
  started_at: null,
  finished_at: null,
  duration_ms: 3,
  usage,
})

describe('AI usage in the inspector', () => {
  it('finds the provider, the model and the tokens', () => {
    const chat = result({ output: { text: 'Paris', provider: 'openai', model: 'gpt-test' } }, { input_tokens: 12, output_tokens: 6, total_tokens: 18 })
    expect(aiSummary(chat)).toEqual({ provider: 'openai', model: 'gpt-test', usage: { input_tokens: 12, output_tokens: 6, total_tokens: 18 } })
    expect(formatUsage(chat.usage!)).toBe('12 in · 6 out · 18 total')
  })

  it('looks at every port (a classifier answers on its label ports)', () => {
    expect(aiSummary(result({ yes: { label: 'yes', provider: 'ollama', model: 'llama3' } }))?.provider).toBe('ollama')
  })

  it('says nothing for nodes without a model', () => {
    expect(aiSummary(result({ output: { a: 1 } }))).toBeNull()
    expect(aiSummary(undefined)).toBeNull()
    expect(formatUsage({ input_tokens: 1200, cached_tokens: 3 })).toBe('1,200 in · 3 cached')
  })
})
