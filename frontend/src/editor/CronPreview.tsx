// Under a cron field: what each field is, and the next fire times in the schedule's time
// zone, as the server computes them (debounced while typing), or what is wrong.
import { useEffect, useState } from 'react'
import { ApiError, api } from '../api/client'
import type { SchedulePreview } from '../api/types'
import { formatFireTime, locatedOnlyAt, previewable, previewProblem, previewZone, PREVIEW_DELAY_MS } from '../lib/cron'

type State = { kind: 'idle' } | { kind: 'ready'; preview: SchedulePreview; at: Date } | { kind: 'failed'; message: string; ofCron: boolean }

interface Props {
  cron: unknown
  timezone: unknown
  /** The field shows a problem already (the workflow's validation): a problem of the
   * expression itself is not said twice. */
  fieldHasProblem?: boolean
}

export function CronPreview({ cron, timezone, fieldHasProblem = false }: Props) {
  const [state, setState] = useState<State>({ kind: 'idle' })
  useEffect(() => {
    if (!previewable(cron)) {
      setState({ kind: 'idle' })
      return
    }
    let current = true
    const timer = setTimeout(() => {
      api
        .schedulePreview(cron, previewZone(timezone))
        .then((preview) => current && setState({ kind: 'ready', preview, at: new Date() }))
        .catch((error: Error) => {
          if (!current) return
          const located = error instanceof ApiError
          setState({ kind: 'failed', message: located ? previewProblem(error.details, error.message) : error.message, ofCron: located && locatedOnlyAt(error.details, 'cron') })
        })
    }, PREVIEW_DELAY_MS)
    return () => {
      current = false
      clearTimeout(timer)
    }
  }, [cron, timezone])

  if (state.kind === 'idle') return null
  if (state.kind === 'failed' && state.ofCron && fieldHasProblem) return null
  if (state.kind === 'failed')
    return (
      <div className="cron-preview field-error" data-testid="cron-preview" role="status">
        {state.message}
      </div>
    )
  const { preview, at } = state
  return (
    <div className="cron-preview" data-testid="cron-preview" role="status">
      {preview.fields.length > 0 && <div className="cron-fields">{preview.fields.join(' · ')}</div>}
      <div className="field-help">Next runs ({preview.timezone}):</div>
      <ol className="cron-times">
        {preview.next.map((time) => (
          <li key={time}>{formatFireTime(time, at)}</li>
        ))}
      </ol>
      {preview.warning && <div className="field-warning">{preview.warning}</div>}
    </div>
  )
}
