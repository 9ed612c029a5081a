// Catalog entries, a stored workflow and an execution shaped as the API returns them, for
// the unit tests.
import type { Catalog, Execution, NodeType, StoredWorkflow, WorkflowDocument } from '../api/types'

function type(name: string, inputs: NodeType['inputs'], outputs: string[], extra: Partial<NodeType> = {}): NodeType {
  return {
    type: name,
    version: 1,
    title: name,
    category: name.split('.')[0],
    description: '',
    icon: null,
    pool: null,
    inputs,
    outputs: Object.fromEntries(outputs.map((port) => [port, { description: '' }])),
    dynamic_outputs: false,
    params_schema: { type: 'object', properties: {} },
    ...extra,
  }
}

const one = { input: { description: '', required: true, many: false } }

export const catalog: Catalog = new Map(
  [
    type('trigger.manual', {}, ['output']),
    type('core.set', one, ['output']),
    type('core.if', one, ['true', 'false']),
    type('core.merge', { input: { description: '', required: false, many: true } }, ['output']),
    type('core.switch', one, ['default'], { dynamic_outputs: true }),
  ].map((t) => [t.type, t]),
)

/** The workflow w1 at version 1, as GET /api/v1/workflows/w1 returns it: a manual trigger
 * alone, or what `document` says over that. */
export function storedWorkflow(document: Partial<WorkflowDocument> = {}): StoredWorkflow {
  return {
    id: 'w1',
    name: 'w',
    description: '',
    active: false,
    version: 1,
    created_at: '',
    updated_at: '',
    document: { schema: 1, name: 'w', nodes: [{ id: 'start', type: 'trigger.manual' }], edges: [], ...document },
  }
}

/** An execution of w1 started over the API that succeeded in a second, with nothing
 * read of its nodes, or what `extra` says over that. */
export function storedExecution(extra: Partial<Execution> = {}): Execution {
  return {
    execution_id: 'e1',
    workflow: 'w',
    workflow_id: 'w1',
    workflow_version: 1,
    status: 'succeeded',
    mode: 'api',
    parent_execution_id: null,
    error: null,
    started_at: '2026-01-01T00:00:00Z',
    finished_at: '2026-01-01T00:00:01Z',
    duration_ms: 1000,
    input: null,
    output: null,
    nodes: {},
    ...extra,
  }
}
