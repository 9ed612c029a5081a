import { afterEach, describe, expect, it, vi } from 'vitest'
import type { WorkflowDocument } from './types'
import { api } from './client'

const document: WorkflowDocument = { schema: 1, name: 'w', nodes: [], edges: [] }

/** Answers every request with `body` and keeps what was asked. */
function answering(body: unknown) {
  const fetch = vi.fn(async (_url: string, _init: RequestInit) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } }))
  vi.stubGlobal('fetch', fetch)
  return fetch
}

function headersOf(init: RequestInit): Record<string, string> {
  return init.headers as Record<string, string>
}

describe('saves that never overwrite a concurrent save', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('names the version a save started from in If-Match', async () => {
    const fetch = answering({ id: 'w1', version: 4 })
    await api.saveWorkflow('w1', document, 3)
    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/api/v1/workflows/w1')
    expect(init.method).toBe('PUT')
    expect(headersOf(init)['If-Match']).toBe('"3"')
    expect(JSON.parse(init.body as string)).toEqual(document)
  })

  it('guards a restore the same way', async () => {
    const fetch = answering({ id: 'w1', version: 5 })
    await api.restoreVersion('w1', 2, 4)
    const [url, init] = fetch.mock.calls[0]
    expect(url).toBe('/api/v1/workflows/w1/versions/2/restore')
    expect(headersOf(init)['If-Match']).toBe('"4"')
  })

  it('sends an imported document as it is, typed', async () => {
    const fetch = answering({ id: 'w2', version: 1 })
    await api.importWorkflow('name: w\nnodes: []\n')
    const [, init] = fetch.mock.calls[0]
    expect(headersOf(init)['Content-Type']).toBe('application/yaml')
    expect(init.body).toBe('name: w\nnodes: []\n')
  })
})
