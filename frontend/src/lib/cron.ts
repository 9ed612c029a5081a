// The next fire times of a schedule, as the editor shows them under a cron field. Pure:
// CronPreview fetches them (GET /api/v1/nodes/trigger.schedule/preview) and renders these.
import { hasTemplate } from './templates'

export const PREVIEW_DELAY_MS = 300
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Whether a cron field's value can be previewed: some text, and no template (its value
 * is known only when the workflow is activated). */
export function previewable(cron: unknown): cron is string {
  return typeof cron === 'string' && cron.trim() !== '' && !hasTemplate(cron)
}

/** The time zone to preview in: the field's value unless it is empty or a template. */
export function previewZone(timezone: unknown, fallback = 'UTC'): string {
  return typeof timezone === 'string' && timezone.trim() !== '' && !hasTemplate(timezone) ? timezone.trim() : fallback
}

/** A fire time given in the schedule's zone (`2026-12-07T09:00:00+01:00`) as the wall time
 * there, not in the browser's zone, and how far off it is: `Mon 7 Dec 2026, 09:00 · in 3 h`
 * (seconds only when they are not 0). */
export function formatFireTime(iso: string, now: Date): string {
  const match = ISO.exec(iso)
  if (!match) return iso
  const [, year, month, day, hour, minute, second] = match
  const weekday = WEEKDAYS[new Date(Date.UTC(+year, +month - 1, +day)).getUTCDay()]
  const time = `${hour}:${minute}${second === '00' ? '' : `:${second}`}`
  return `${weekday} ${+day} ${MONTHS[+month - 1]} ${year}, ${time} · ${relative(Date.parse(iso) - now.getTime())}`
}

/** `in 45 s`, `in 12 min`, `in 3 h`, `in 2 days`; `now` within a second. */
export function relative(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 1) return 'now'
  if (seconds < 60) return `in ${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `in ${minutes} min`
  const hours = Math.round(minutes / 60)
  if (hours < 48) return `in ${hours} h`
  return `in ${Math.round(hours / 24)} days`
}

/** The message of a failed preview: the problems the API located (422), else the error's
 * own message. */
export function previewProblem(details: unknown, fallback: string): string {
  if (!Array.isArray(details)) return fallback
  const messages = details.map((detail) => (detail as { message?: unknown })?.message).filter((message): message is string => typeof message === 'string')
  return messages.length ? messages.join('; ') : fallback
}

/** Whether every problem of a failed preview is located at its query parameter `name`
 * (`query.cron`): then it is about the expression itself, which the field's own validation
 * reports too. Goes by location, never by the wording of a message. */
export function locatedOnlyAt(details: unknown, name: string): boolean {
  if (!Array.isArray(details) || details.length === 0) return false
  return details.every((detail) => (detail as { location?: unknown })?.location === `query.${name}`)
}
