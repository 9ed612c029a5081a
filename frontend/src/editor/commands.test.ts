import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, ApiError } from '../api/client'
import type { StoredWorkflow } from '../api/types'
import { catalog, storedExecution, storedWorkflow } from '../lib/fixtures'
import { useCommands } from './commands'
import { useEditor } from './store'

const stored = storedWorkflow()

const finished = storedExecution()

const commands = () => useCommands.getState()
const notice = () => useEditor.getState().notice

/** Opens the workflow as the page does, with an empty history. */
async function opened(): Promise<void> {
  vi.spyOn(api, 'workflow').mockResolvedValue(stored)
  vi.spyOn(api, 'nodeTypes').mockResolvedValue(catalog)
  vi.spyOn(api, 'executions').mockResolvedValue({ items: [], total: 0, limit: 1, offset: 0 })
  expect(await commands().open('w1')).toBe(true)
  vi.restoreAllMocks()
  useEditor.getState().clearRun() // the store keeps the run of the workflow it opens again
  useEditor.setState({ notice: null })
}

beforeEach(opened)
afterEach(() => vi.restoreAllMocks())

describe('stopping an execution', () => {
  beforeEach(() => useEditor.getState().startRun('e1'))

  it('says so when the server refuses: the execution had already ended', async () => {
    const cancel = vi.spyOn(api, 'cancel').mockRejectedValue(new ApiError(409, 'conflict', 'the execution has already succeeded', null))
    const stopping = commands().stop()
    expect(commands().stopping).toBe(true)
    expect(await stopping).toBe(false)
    expect(cancel).toHaveBeenCalledWith('e1')
    expect(notice()).toMatchObject({ kind: 'error', text: 'Not stopped: the execution has already succeeded' })
    expect(commands().stopping).toBe(false)
  })

  it('says so when the server cannot be reached', async () => {
    vi.spyOn(api, 'cancel').mockRejectedValue(new TypeError('Failed to fetch'))
    expect(await commands().stop()).toBe(false)
    expect(notice()).toMatchObject({ kind: 'error', text: 'Not stopped: Failed to fetch' })
  })

  it('leaves it to the execution to say that it stopped', async () => {
    vi.spyOn(api, 'cancel').mockResolvedValue({ execution_id: 'e1' })
    expect(await commands().stop()).toBe(true)
    expect(notice()).toBeNull()
  })
})

describe('saving', () => {
  beforeEach(() => useEditor.getState().rename('renamed'))

  it('marks the problems the server found on the nodes', async () => {
    const problems = [{ location: "node 'start'", node: 'start', edge: null, field: null, message: 'bad' }]
    vi.spyOn(api, 'saveWorkflow').mockRejectedValue(new ApiError(422, 'workflow_invalid', 'invalid', problems))
    expect(await commands().save()).toBe(false)
    expect(useEditor.getState().problems).toEqual(problems)
    expect(notice()).toMatchObject({ kind: 'error', text: 'Not saved: 1 problem(s) to fix first (marked on the nodes)' })
    expect(useEditor.getState().dirty).toBe(true)
    expect(commands().saving).toBe(false)
  })

  it('tells of a newer version saved by someone else', async () => {
    vi.spyOn(api, 'saveWorkflow').mockRejectedValue(new ApiError(409, 'conflict', 'version 2 is newer', null))
    expect(await commands().save()).toBe(false)
    expect(notice()?.text).toMatch(/someone saved this workflow since you opened it/)
  })

  it('does not run what it could not save', async () => {
    vi.spyOn(api, 'saveWorkflow').mockRejectedValue(new Error('HTTP 500'))
    const run = vi.spyOn(api, 'run')
    expect(await commands().run({})).toBe(false)
    expect(run).not.toHaveBeenCalled()
    expect(notice()).toMatchObject({ kind: 'error', text: 'HTTP 500' })
  })
})

describe('a version saved elsewhere', () => {
  it('becomes the one the draft is compared with, and only a newer one', async () => {
    useEditor.getState().rename('their name')
    expect(useEditor.getState().dirty).toBe(true)
    const theirs = { ...stored, version: 2, document: useEditor.getState().document() }
    vi.spyOn(api, 'workflow').mockResolvedValueOnce(theirs).mockResolvedValueOnce(stored)
    await commands().refreshSaved()
    expect(useEditor.getState()).toMatchObject({ version: 2, dirty: false })
    await commands().refreshSaved() // an older answer changes nothing
    expect(useEditor.getState().version).toBe(2)
  })
})

describe('running', () => {
  it('follows the execution it started, which a run from a node then reuses', async () => {
    vi.spyOn(api, 'run').mockResolvedValue({ execution_id: 'e2' })
    expect(await commands().run({ a: 1 })).toBe(true)
    expect(useEditor.getState().run).toMatchObject({ executionId: 'e2', live: true })
    expect(commands().latest).toBe('e2')
  })

  it('says why a run was refused', async () => {
    vi.spyOn(api, 'run').mockRejectedValue(new ApiError(422, 'input_invalid', 'input: not an object', null))
    expect(await commands().run(1)).toBe(false)
    expect(notice()).toMatchObject({ kind: 'error', text: 'input: not an object' })
    expect(useEditor.getState().run.executionId).toBeNull()
  })

  it('asks for an earlier execution before a run from a node', async () => {
    useEditor.getState().select('start')
    const runFrom = vi.spyOn(api, 'runFrom')
    expect(await commands().runFromSelection()).toBe(false)
    expect(runFrom).not.toHaveBeenCalled()
    expect(notice()?.text).toMatch(/^Run the workflow once first/)
  })
})

describe('activation', () => {
  it('shows why the server refused to activate', async () => {
    vi.spyOn(api, 'activate').mockRejectedValue(new ApiError(422, 'activation_invalid', 'the workflow has no trigger to activate', null))
    expect(await commands().setActive(true)).toBe(false)
    expect(commands().activationError).toMatch(/^Not activated: the workflow has no trigger to activate/)
    expect(commands().activating).toBe(false)
    commands().dismissActivationError()
    expect(commands().activationError).toBeNull()
  })

  it('tells of a refused deactivation', async () => {
    vi.spyOn(api, 'deactivate').mockRejectedValue(new Error('HTTP 503'))
    expect(await commands().setActive(false)).toBe(false)
    expect(notice()).toMatchObject({ kind: 'error', text: 'Not deactivated: HTTP 503' })
  })
})

describe('the history', () => {
  it('tells of an execution that cannot be opened', async () => {
    vi.spyOn(api, 'execution').mockRejectedValue(new ApiError(404, 'not_found', "no execution 'e9'", null))
    expect(await commands().openExecution('e9')).toBe(false)
    expect(notice()).toMatchObject({ kind: 'error', text: "The execution could not be opened: no execution 'e9'" })
  })

  it('shows an execution it opened', async () => {
    vi.spyOn(api, 'execution').mockResolvedValue(finished)
    expect(await commands().openExecution('e1')).toBe(true)
    expect(useEditor.getState().run).toMatchObject({ executionId: 'e1', status: 'succeeded', live: false })
  })

  it('tells of a version that cannot be restored', async () => {
    vi.spyOn(api, 'restoreVersion').mockRejectedValue(new ApiError(409, 'conflict', 'newer', null))
    expect(await commands().restore(1)).toBe(false)
    expect(notice()?.kind).toBe('error')
  })
})

describe('opening a workflow', () => {
  it('says why it cannot be opened', async () => {
    vi.spyOn(api, 'workflow').mockRejectedValue(new ApiError(404, 'not_found', "no workflow with id 'w2'", null))
    vi.spyOn(api, 'nodeTypes').mockResolvedValue(catalog)
    expect(await commands().open('w2')).toBe(false)
    expect(commands().opening).toEqual({ workflowId: 'w2', state: 'failed', message: "no workflow with id 'w2'" })
  })

  it('opens it even when its executions cannot be listed, and says so', async () => {
    vi.spyOn(api, 'workflow').mockResolvedValue(stored)
    vi.spyOn(api, 'nodeTypes').mockResolvedValue(catalog)
    vi.spyOn(api, 'executions').mockRejectedValue(new Error('HTTP 502'))
    expect(await commands().open('w1')).toBe(true)
    expect(commands().opening.state).toBe('ready')
    expect(notice()).toMatchObject({ kind: 'error', text: "The workflow's executions could not be read: HTTP 502" })
  })

  it('keeps the workflow opened last when an earlier one answers later', async () => {
    let answer: (workflow: StoredWorkflow) => void = () => {}
    vi.spyOn(api, 'workflow').mockImplementationOnce(() => new Promise((resolve) => (answer = resolve))).mockResolvedValueOnce({ ...stored, id: 'w3' })
    vi.spyOn(api, 'nodeTypes').mockResolvedValue(catalog)
    vi.spyOn(api, 'executions').mockResolvedValue({ items: [], total: 0, limit: 1, offset: 0 })
    const first = commands().open('w1')
    expect(await commands().open('w3')).toBe(true)
    answer(stored)
    expect(await first).toBe(false)
    expect(useEditor.getState().workflowId).toBe('w3')
    expect(commands().opening).toEqual({ workflowId: 'w3', state: 'ready' })
  })
})
