import { describe, expect, it } from 'vitest'
import { executionLink, executionQuery, filtersFrom, filtersSearch, NO_FILTERS, notKept, pollDelay } from './executions'

const WORKFLOW = 'a'.repeat(32)

describe('the filters of the executions list', () => {
  it('become the query of the API, the time span as a start time', () => {
    const now = Date.parse('2026-01-02T00:00:00Z')
    expect(executionQuery(NO_FILTERS, now, 50)).toEqual({ limit: 50, offset: 0 })
    expect(executionQuery({ workflow: WORKFLOW, status: 'failed', mode: 'editor', span: 'day' }, now, 20, 40)).toEqual({
      limit: 20,
      offset: 40,
      workflow_id: WORKFLOW,
      status: 'failed',
      mode: 'editor',
      started_after: '2026-01-01T00:00:00.000Z',
    })
  })

  it('go to the query string and back, unknown values left out', () => {
    const filters = { workflow: WORKFLOW, status: 'running', mode: 'webhook', span: 'hour' } as const
    expect(filtersFrom(filtersSearch(filters))).toEqual(filters)
    expect(filtersSearch(NO_FILTERS)).toBe('')
    expect(filtersFrom('?status=done&mode=browser&span=year&workflow=../x')).toEqual(NO_FILTERS)
  })
})

describe('the executions list', () => {
  it('asks again soon while an execution on it is going, else slowly', () => {
    expect(pollDelay([{ status: 'succeeded' }, { status: 'running' }])).toBe(2000)
    expect(pollDelay([{ status: 'queued' }])).toBe(2000)
    expect(pollDelay([{ status: 'failed' }])).toBe(10_000)
    expect(pollDelay([])).toBe(10_000)
  })

  it('opens an execution in its workflow, if the workflow is stored', () => {
    expect(executionLink({ execution_id: 'e1', workflow_id: WORKFLOW })).toBe(`/workflows/${WORKFLOW}?execution=e1`)
    expect(executionLink({ execution_id: 'e1', workflow_id: null })).toBeNull()
  })
})

describe('the successful runs the list leaves out', () => {
  it('are told with their count', () => {
    expect(notKept({ successes_not_kept: 1234 }, NO_FILTERS)).toBe('and 1,234 successful runs not kept')
    expect(notKept({ successes_not_kept: 1 }, { ...NO_FILTERS, workflow: WORKFLOW, status: 'succeeded' })).toBe(
      'and 1 successful run not kept',
    )
  })

  it('are not told when there are none, or when the filters would leave them out', () => {
    expect(notKept({ successes_not_kept: 0 }, NO_FILTERS)).toBeNull()
    expect(notKept({}, NO_FILTERS)).toBeNull()
    expect(notKept({ successes_not_kept: 5 }, { ...NO_FILTERS, status: 'failed' })).toBeNull()
    expect(notKept({ successes_not_kept: 5 }, { ...NO_FILTERS, mode: 'webhook' })).toBeNull()
    expect(notKept({ successes_not_kept: 5 }, { ...NO_FILTERS, span: 'day' })).toBeNull()
  })
})
