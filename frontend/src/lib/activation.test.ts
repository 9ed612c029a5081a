import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { activationMessage } from './activation'

describe('activationMessage', () => {
  it('names the workflow that holds a webhook', () => {
    const error = new ApiError(409, 'trigger_conflict', 'taken', { workflow_id: 'w1', workflow_name: 'Orders', claim: 'webhook POST /webhook/orders' })
    expect(activationMessage(error)).toBe('Not activated: POST /webhook/orders is already taken by the active workflow “Orders”. Deactivate that one, or change this trigger.')
  })
  it('explains a workflow with only a manual trigger, by its code', () => {
    const message = 'the workflow has no trigger to activate: add a webhook, schedule, MQTT or email trigger (trigger.manual runs only by hand)'
    const error = new ApiError(422, 'activation_invalid', message, [{ code: 'no_trigger', node: null, message }])
    expect(activationMessage(error)).toBe(`Not activated: ${message}. Add one from the palette's Triggers group.`)
  })
  it('goes by the code, not by the wording of the message', () => {
    const reworded = [{ code: 'no_trigger', node: null, message: 'nothing here can be armed' }]
    expect(activationMessage(new ApiError(422, 'activation_invalid', 'nothing here can be armed', reworded))).toBe("Not activated: nothing here can be armed. Add one from the palette's Triggers group.")
    const other = [{ code: 'trigger_templated', node: 'hook', message: 'no trigger here: params hold a template' }]
    expect(activationMessage(new ApiError(422, 'activation_invalid', 'x', other))).toBe('Not activated: hook: no trigger here: params hold a template.')
  })
  it('lists every problem on its node', () => {
    const details = [
      { code: 'credential_missing', node: 'hook', message: 'there is no credential with id "nope"' },
      { code: 'trigger_kind_unknown', node: 'tick', message: "trigger kind 'tick' is not known to this server" },
    ]
    const error = new ApiError(422, 'activation_invalid', 'there is no credential with id "nope"', details)
    expect(activationMessage(error)).toBe('Not activated: hook: there is no credential with id "nope"; tick: trigger kind \'tick\' is not known to this server.')
  })
  it('falls back to the message of any other error', () => {
    expect(activationMessage(new ApiError(404, 'not_found', 'no workflow with id "x"', null))).toBe('Not activated: no workflow with id "x"')
    expect(activationMessage(new Error('offline'))).toBe('Not activated: offline')
  })
})
