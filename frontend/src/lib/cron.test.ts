import { describe, expect, it } from 'vitest'
import { formatFireTime, locatedOnlyAt, previewable, previewProblem, previewZone, relative } from './cron'

describe('cron preview helpers', () => {
  it('shows a fire time as the wall time of its own zone, with how far off it is', () => {
    const now = new Date('2026-12-07T05:00:00Z')
    expect(formatFireTime('2026-12-07T09:00:00+01:00', now)).toBe('Mon 7 Dec 2026, 09:00 · in 3 h')
    expect(formatFireTime('2026-12-31T23:59:30-05:00', now)).toBe('Thu 31 Dec 2026, 23:59:30 · in 25 days')
    expect(formatFireTime('2026-12-07T05:00:45Z', now)).toBe('Mon 7 Dec 2026, 05:00:45 · in 45 s')
    expect(formatFireTime('not a time', now)).toBe('not a time')
  })

  it('says how far off in the largest sensible unit', () => {
    expect(relative(400)).toBe('now')
    expect(relative(59_000)).toBe('in 59 s')
    expect(relative(12 * 60_000)).toBe('in 12 min')
    expect(relative(47 * 3_600_000)).toBe('in 47 h')
    expect(relative(72 * 3_600_000)).toBe('in 3 days')
  })

  it('previews plain expressions only', () => {
    expect(previewable('0 9 * * mon-fri')).toBe(true)
    expect(previewable('  ')).toBe(false)
    expect(previewable('{{ vars.cron }}')).toBe(false)
    expect(previewable(undefined)).toBe(false)
    expect(previewZone('Europe/Paris')).toBe('Europe/Paris')
    expect(previewZone('{{ vars.zone }}')).toBe('UTC')
    expect(previewZone(undefined)).toBe('UTC')
  })

  it('takes the located problems of a 422', () => {
    const details = [{ location: 'query.cron', message: "'61 * * * *' is not a valid cron expression" }]
    expect(previewProblem(details, 'the request is not valid')).toBe("'61 * * * *' is not a valid cron expression")
    expect(previewProblem(null, 'Failed to fetch')).toBe('Failed to fetch')
  })
  it('tells a problem of the expression from one of the zone by where it is located', () => {
    const cron = [{ location: 'query.cron', message: 'whatever the server says', type: 'value_error' }]
    const zone = [{ location: 'query.timezone', message: 'unknown time zone', type: 'value_error' }]
    expect(locatedOnlyAt(cron, 'cron')).toBe(true)
    expect(locatedOnlyAt([...cron, ...zone], 'cron')).toBe(false)
    expect(locatedOnlyAt(zone, 'cron')).toBe(false)
    expect(locatedOnlyAt(null, 'cron')).toBe(false)
    expect(locatedOnlyAt([], 'cron')).toBe(false)
  })
})
