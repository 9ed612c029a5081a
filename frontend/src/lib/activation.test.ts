import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { activationMessage } from './activation'

describe('activationMessage', () => {
  it('names the workflow that holds a webhook', () => {
    const error = new ApiError(409, 'trigger_conflict', 'taken', { workflow_id: 'w1', workflow_name: 'Orders', claim: 'webhook POST /webhook/orders' })
    expect(activationMessage(error)).toBe('Not activated: POST /webhook/orders is already taken by the active workflow “Orders”. Deactivate that one, or change this trigger.')
  })
  it('explains a workflow with only a manual trigger', () => {
    const error = new ApiError(422, 'activation_invalid', 'the workflow has no trigger to activate', null)
    expect(activationMessage(error)).toMatch(/^Not activated: the workflow has no trigger to activate\. Add a webhook/)
  })
  it('lists the problems it locates', () => {
    const error = new ApiError(422, 'activation_invalid', 'a trigger cannot be armed', [{ node: 'hook', message: 'credential not found' }])
    expect(activationMessage(error)).toBe('Not activated: a trigger cannot be armed (hook: credential not found)')
  })
})
