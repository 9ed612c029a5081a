// Catalog entries shaped as GET /api/v1/nodes returns them, for the unit tests.
import type { Catalog, NodeType } from '../api/types'

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
