import { describe, expect, it } from 'vitest'
import { atLeast, canEdit, managesUsers, rolesToGive } from './roles'

describe('roles', () => {
  it('ranks owner over admin over editor over viewer', () => {
    expect(atLeast('owner', 'admin')).toBe(true)
    expect(atLeast('admin', 'owner')).toBe(false)
    expect(atLeast('editor', 'editor')).toBe(true)
    expect(atLeast('viewer', 'editor')).toBe(false)
  })

  it('lets editors and above edit, admins and above manage users', () => {
    expect(['owner', 'admin', 'editor', 'viewer'].map((role) => canEdit(role as never))).toEqual([true, true, true, false])
    expect(['owner', 'admin', 'editor', 'viewer'].map((role) => managesUsers(role as never))).toEqual([true, true, false, false])
  })

  it('offers the owner role only from the owner, to an active member', () => {
    const owner = { id: 'o', role: 'owner' as const }
    const admin = { id: 'a', role: 'admin' as const }
    const editor = { id: 'e', role: 'editor' as const, disabled: false }
    expect(rolesToGive(owner, editor)).toEqual(['owner', 'admin', 'editor', 'viewer'])
    expect(rolesToGive(admin, editor)).toEqual(['admin', 'editor', 'viewer'])
    expect(rolesToGive(owner, { ...editor, disabled: true })).toEqual(['admin', 'editor', 'viewer'])
  })

  it('offers nothing for oneself, for the owner, or to a non-admin', () => {
    expect(rolesToGive({ id: 'a', role: 'admin' }, { id: 'a', role: 'admin', disabled: false })).toEqual([])
    expect(rolesToGive({ id: 'a', role: 'admin' }, { id: 'o', role: 'owner', disabled: false })).toEqual([])
    expect(rolesToGive({ id: 'e', role: 'editor' }, { id: 'v', role: 'viewer', disabled: false })).toEqual([])
  })
})
