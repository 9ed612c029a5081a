// What the editor says when the server refuses to activate a workflow.
import { ApiError } from '../api/client'

interface Located {
  node?: string | null
  field?: string | null
  location?: string | null
  message?: string
}

/** A sentence for a refused activation: `422 activation_invalid` (with the problems it
 * locates) or `409 trigger_conflict` (naming the workflow that holds the trigger). */
export function activationMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return `Not activated: ${(error as Error)?.message ?? String(error)}`
  if (error.code === 'trigger_conflict' && error.details && typeof error.details === 'object') {
    const details = error.details as { workflow_name?: string; workflow_id?: string; claim?: string }
    const what = details.claim ? details.claim.replace(/^webhook /, '') : 'its trigger'
    const other = details.workflow_name ? `“${details.workflow_name}”` : 'another workflow'
    return `Not activated: ${what} is already taken by the active workflow ${other}. Deactivate that one, or change this trigger.`
  }
  if (error.code === 'activation_invalid') {
    const problems = Array.isArray(error.details)
      ? (error.details as Located[]).filter((p) => p && p.message).map((p) => (p.node ? `${p.node}: ${p.message}` : p.message))
      : []
    const lead = `Not activated: ${error.message}`
    if (problems.length && !problems.every((p) => error.message.includes(p as string))) return `${lead} (${problems.join('; ')})`
    if (/no trigger/i.test(error.message)) return `${lead.replace(/[.\s]*$/, '')}. Add a webhook, schedule, MQTT or email trigger; a manual trigger runs only by hand.`
    return lead
  }
  return `Not activated: ${error.message}`
}
