// What the editor says when the server refuses to activate a workflow. It goes by the
// stable codes of the error (docs/api/rest.md#activate), never by the wording of a message.
import { ApiError } from '../api/client'

interface Refusal {
  code?: string
  node?: string | null
  message?: string
}

/** A sentence for a refused activation: `409 trigger_conflict` (naming the workflow that
 * holds the trigger) or `422 activation_invalid` (each problem located, with its code). */
export function activationMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return `Not activated: ${(error as Error)?.message ?? String(error)}`
  if (error.code === 'trigger_conflict' && error.details && typeof error.details === 'object') {
    const details = error.details as { workflow_name?: string; workflow_id?: string; claim?: string }
    const what = details.claim ? details.claim.replace(/^webhook /, '') : 'its trigger'
    const other = details.workflow_name ? `“${details.workflow_name}”` : 'another workflow'
    return `Not activated: ${what} is already taken by the active workflow ${other}. Deactivate that one, or change this trigger.`
  }
  if (error.code === 'activation_invalid' && Array.isArray(error.details) && error.details.length) {
    const refusals = (error.details as Refusal[]).filter((refusal) => refusal && refusal.message)
    const said = refusals.map((refusal) => (refusal.node ? `${refusal.node}: ${refusal.message}` : refusal.message)).join('; ')
    // The server's message names the kinds it can arm; the editor adds where to find them.
    const hint = refusals.some((refusal) => refusal.code === 'no_trigger') ? " Add one from the palette's Triggers group." : ''
    return `Not activated: ${said.replace(/[.\s]*$/, '')}.${hint}`
  }
  return `Not activated: ${error.message}`
}
