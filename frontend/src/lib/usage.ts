// What an AI node's result says about the model behind it: the provider and model that
// answered (in the output of every `ai.*` node) and the tokens it used (the result's
// `usage`).
import type { NodeResult, Usage } from '../api/types'

export interface AiSummary {
  provider: string | null
  model: string | null
  usage: Usage | null
}

/** The provider, model and token usage of a node's result; null when it has none. */
export function aiSummary(result: NodeResult | undefined): AiSummary | null {
  if (!result) return null
  let provider: string | null = null
  let model: string | null = null
  for (const value of Object.values(result.outputs ?? {})) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue
    const output = value as { provider?: unknown; model?: unknown }
    if (typeof output.provider === 'string' && output.provider) {
      provider = output.provider
      model = typeof output.model === 'string' ? output.model : null
      break
    }
  }
  const usage = result.usage && Object.keys(result.usage).length ? result.usage : null
  if (!provider && !usage) return null
  return { provider, model, usage }
}

const KNOWN = ['input_tokens', 'output_tokens', 'total_tokens']

/** "12 in · 6 out · 18 total" */
export function formatUsage(usage: Usage): string {
  const parts: string[] = []
  if (usage.input_tokens !== undefined) parts.push(`${usage.input_tokens.toLocaleString('en')} in`)
  if (usage.output_tokens !== undefined) parts.push(`${usage.output_tokens.toLocaleString('en')} out`)
  if (usage.total_tokens !== undefined) parts.push(`${usage.total_tokens.toLocaleString('en')} total`)
  for (const [key, value] of Object.entries(usage)) {
    if (!KNOWN.includes(key) && value !== undefined) parts.push(`${value.toLocaleString('en')} ${key.replace(/_tokens$/, '').replace(/_/g, ' ')}`)
  }
  return parts.join(' · ')
}
