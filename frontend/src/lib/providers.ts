// LLM providers as the server describes them: each credential kind of GET
// /api/v1/credentials/kinds says whether it is a provider and what it offers (its record in
// tav.ai.providers), so the editor keeps no list of provider kinds of its own.
import type { CredentialKind, CredentialSummary } from '../api/types'

/** The credentials that can be a link of a chat model chain, in the order given. */
export function chatCredentials(credentials: CredentialSummary[], kinds: CredentialKind[]): CredentialSummary[] {
  const chat = new Set(kinds.filter((kind) => kind.provider?.chat).map((kind) => kind.kind))
  return credentials.filter((credential) => chat.has(credential.kind))
}

/** The providers' names, for a sentence: "OpenAI, Anthropic, Ollama". */
export function providerTitles(kinds: CredentialKind[]): string {
  return kinds.flatMap((kind) => (kind.provider ? [kind.provider.title] : [])).join(', ')
}
