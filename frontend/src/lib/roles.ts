// What each role of the team may do, as the editor shows it (docs/guide/team.md). The
// server decides: every route checks the caller's role. The editor only leaves out what a
// role could not do anyway, so that a viewer is not offered buttons that answer 403.
import type { Role } from '../api/types'

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 }

export const ROLES: readonly Role[] = ['owner', 'admin', 'editor', 'viewer']

/** What each role may do, in a line. */
export const ROLE_HELP: Record<Role, string> = {
  owner: 'Everything; cannot be disabled or demoted. One per installation.',
  admin: 'Manages the team and the settings, and builds and runs workflows.',
  editor: 'Builds, saves and runs workflows; manages credentials and variables.',
  viewer: 'Sees workflows and executions; runs and changes nothing.',
}

export function atLeast(role: Role, other: Role): boolean {
  return RANK[role] >= RANK[other]
}

/** Build, save and run workflows; manage credentials and variables. */
export function canEdit(role: Role): boolean {
  return atLeast(role, 'editor')
}

/** Invite, change roles, disable; change the runtime settings. */
export function managesUsers(role: Role): boolean {
  return atLeast(role, 'admin')
}

/** The roles ``actor`` may give ``target``: none for themselves or the owner; owner only
 * from the owner (who hands the role over). */
export function rolesToGive(actor: { id: string; role: Role }, target: { id: string; role: Role; disabled: boolean }): Role[] {
  if (!managesUsers(actor.role) || actor.id === target.id || target.role === 'owner') return []
  const roles: Role[] = ['admin', 'editor', 'viewer']
  return actor.role === 'owner' && !target.disabled ? ['owner', ...roles] : roles
}
