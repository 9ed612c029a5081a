import { describe, expect, it } from 'vitest'
import { catalog } from '../lib/fixtures'
import { groupTypes } from './Palette'

describe('groupTypes', () => {
  it('leaves out a type the server could not load', () => {
    const broken = { ...catalog.get('core.set')!, type: 'core.broken', title: 'Broken', available: false, error: 'ModuleNotFoundError: acme' }
    const groups = groupTypes([...catalog.values(), broken], '')
    const listed = groups.flatMap(([, types]) => types.map((type) => type.type))
    expect(listed).toContain('core.set')
    expect(listed).not.toContain('core.broken')
  })

  it('lists only types that take an input when the new node is connected after another', () => {
    const listed = (connected: boolean) => groupTypes([...catalog.values()], '', connected).flatMap(([, types]) => types.map((type) => type.type))
    expect(listed(false)).toContain('trigger.manual')
    expect(listed(true)).not.toContain('trigger.manual')
    expect(listed(true)).toContain('core.set')
  })
})
