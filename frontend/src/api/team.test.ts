import { describe, expect, it } from 'vitest'
import { inviteToken } from './team'

describe('inviteToken', () => {
  it('reads the token after # in the link', () => {
    expect(inviteToken('#token=abcdefghijklmnopqrstuvwxyz_-0123')).toBe('abcdefghijklmnopqrstuvwxyz_-0123')
  })

  it('is null for a link without one, or with something else', () => {
    expect(inviteToken('')).toBeNull()
    expect(inviteToken('#token=short')).toBeNull()
    expect(inviteToken('#token=<script>alert(1)</script>aaaaaaaaaaaaaaaaa')).toBeNull()
  })
})
