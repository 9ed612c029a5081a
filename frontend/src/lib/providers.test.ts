import { describe, expect, it } from 'vitest'
import type { CredentialKind, CredentialSummary } from '../api/types'
import { chatCredentials, providerTitles } from './providers'

const kind = (name: string, provider: CredentialKind['provider']): CredentialKind => ({ kind: name, description: '', secret_fields: [], schema: {}, provider })
const provider = (title: string, embeddings = true) => ({ title, api: 'openai', chat: true, embeddings, default_base_url: null })
const credential = (id: string, kindName: string): CredentialSummary => ({ id, name: id, kind: kindName, fields: [], created_at: '', updated_at: '' })

describe('providers', () => {
  const kinds = [kind('smtp', null), kind('openai', provider('OpenAI')), kind('acme_llm', provider('Acme', false))]

  it('offers the credentials of every kind the server says is a chat provider', () => {
    const credentials = [credential('mail', 'smtp'), credential('gpt', 'openai'), credential('acme', 'acme_llm')]
    expect(chatCredentials(credentials, kinds).map((c) => c.id)).toEqual(['gpt', 'acme'])
  })
  it('names the providers as the server does', () => {
    expect(providerTitles(kinds)).toBe('OpenAI, Acme')
  })
})
