// The team's part of the API: who is calling, the members and their invites (admins), an
// invite's acceptance (public), and the caller's own API keys. An invite's token travels
// only in request bodies: the link carries it after `#`, which no request sends.
import { request } from './client'
import type { ApiKey, ApiKeyCreated, Invite, InviteCreated, InviteInfo, Me, Member, Role, User } from './types'

export const team = {
  me: () => request<Me>('GET', '/auth/me'),

  members: () => request<Member[]>('GET', '/users'),
  changeRole: (id: string, role: Role) => request<Member>('PATCH', `/users/${id}`, { role }),
  disable: (id: string) => request<Member>('POST', `/users/${id}/disable`),
  enable: (id: string) => request<Member>('POST', `/users/${id}/enable`),

  invites: () => request<Invite[]>('GET', '/invites'),
  invite: (email: string, role: Role) => request<InviteCreated>('POST', '/invites', { email, role }),
  revokeInvite: (id: string) => request<void>('DELETE', `/invites/${id}`),
  /** What the invite offers; 404 (revoked, mistyped) or 409 (used, expired) otherwise. */
  lookInvite: (token: string) => request<InviteInfo>('POST', '/auth/invite', { token }),
  /** Creates the invited account and signs this browser in as it. */
  acceptInvite: (token: string, password: string) => request<User>('POST', '/auth/invite/accept', { token, password }),

  apiKeys: () => request<ApiKey[]>('GET', '/auth/api-keys'),
  createApiKey: (name: string) => request<ApiKeyCreated>('POST', '/auth/api-keys', { name }),
  deleteApiKey: (id: string) => request<void>('DELETE', `/auth/api-keys/${id}`),
}

/** The token of an invite link (`/invite#token=...`), or null. */
export function inviteToken(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token')
  return token && /^[A-Za-z0-9_-]{20,200}$/.test(token) ? token : null
}
