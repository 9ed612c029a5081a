// Whether a new edge may be drawn, and if not, why: said to the person at once rather
// than at save time.
import type { Catalog } from '../api/types'
import { DEFAULT_INPUT, DEFAULT_OUTPUT, type FlowEdge, type FlowNode } from './graph'

export interface ConnectionLike {
  source: string | null
  target: string | null
  sourceHandle?: string | null
  targetHandle?: string | null
}

/** Why the connection cannot be made, or null when it can. */
export function connectionProblem(
  connection: ConnectionLike,
  nodes: readonly FlowNode[],
  edges: readonly FlowEdge[],
  catalog: Catalog,
): string | null {
  const { source, target } = connection
  if (!source || !target) return 'drop the edge on an input port'
  if (source === target) return 'a node cannot connect to itself'
  const sourcePort = connection.sourceHandle || DEFAULT_OUTPUT
  const targetPort = connection.targetHandle || DEFAULT_INPUT
  const targetNode = nodes.find((node) => node.id === target)
  if (!targetNode || !nodes.some((node) => node.id === source)) return 'unknown node'
  const type = catalog.get(targetNode.data.def.type)
  if (type && !(targetPort in type.inputs)) {
    return Object.keys(type.inputs).length ? `'${target}' has no input '${targetPort}'` : `'${target}' (${type.title}) takes no input`
  }
  const into = edges.filter((edge) => edge.target === target && (edge.targetHandle || DEFAULT_INPUT) === targetPort)
  if (into.some((edge) => edge.source === source && (edge.sourceHandle || DEFAULT_OUTPUT) === sourcePort)) {
    return 'these ports are already connected'
  }
  if (type && !type.inputs[targetPort].many && into.length > 0) {
    return `input '${targetPort}' of '${target}' takes one value and is already connected (from '${into[0].source}'); use a Merge node to join branches`
  }
  const path = pathBetween(target, source, edges)
  if (path) return `this edge would make a cycle: ${[source, ...path].join(' → ')}`
  return null
}

/** The nodes on a path from `from` to `to` along the edges (both included), or null. */
export function pathBetween(from: string, to: string, edges: readonly FlowEdge[]): string[] | null {
  const next = new Map<string, string[]>()
  for (const edge of edges) next.set(edge.source, [...(next.get(edge.source) ?? []), edge.target])
  const parent = new Map<string, string>([[from, from]])
  const queue = [from]
  while (queue.length) {
    const node = queue.shift() as string
    if (node === to) {
      const path = [to]
      while (path[0] !== from) path.unshift(parent.get(path[0]) as string)
      return path
    }
    for (const child of next.get(node) ?? []) {
      if (!parent.has(child)) {
        parent.set(child, node)
        queue.push(child)
      }
    }
  }
  return null
}
