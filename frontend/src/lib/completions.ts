// Suggestions while typing inside `{{ ... }}`: what a template can read at the cursor
// (docs/reference/variables.md), from the graph and the last execution's results.

export interface Suggestion {
  /** What the list shows: a name, a key or an index. */
  label: string
  /** What replaces the text from `from` to `to`. */
  insert: string
  from: number
  /** Where the path continues, as a hint (`node`, `port`, `object`, `list`, a value). */
  detail?: string
}

export interface Completion {
  /** The part of the name being typed, which the suggestions start with or contain. */
  typed: string
  from: number
  to: number
  items: Suggestion[]
}

export interface CompletionSource {
  /** The node whose params are being edited. */
  nodeId: string
  /** Every node's output ports. */
  ports: Record<string, string[]>
  edges: { source: string; target: string }[]
  /** The outputs of the last execution (or pinned ones), by node and port. */
  outputs: Record<string, Record<string, unknown> | null | undefined>
  /** The last run's trigger payload; `undefined` when no run is known. */
  trigger?: unknown
  /** The variables' names; `null` when they are not known. */
  vars: string[] | null
}

const ROOTS: [string, string][] = [
  ['trigger', 'the trigger payload'],
  ['input', "what arrived on this node's input"],
  ['nodes', 'outputs of the nodes before this one'],
  ['vars', 'variables'],
  ['execution', 'id, workflow, started_at'],
]
const EXECUTION = ['id', 'workflow', 'started_at']
const IDENTIFIER = /^[A-Za-z_]\w*$/
const MAX_INDEXES = 20

/** The nodes a node can read in `nodes.<id>`: those with a path of edges to it, nearest
 * first. */
export function ancestors(nodeId: string, edges: { source: string; target: string }[]): string[] {
  const found: string[] = []
  const seen = new Set([nodeId])
  let layer = [nodeId]
  while (layer.length) {
    const next: string[] = []
    for (const edge of edges) {
      if (layer.includes(edge.target) && !seen.has(edge.source)) {
        seen.add(edge.source)
        next.push(edge.source)
      }
    }
    found.push(...next.sort())
    layer = next
  }
  return found
}

/** The start of the `{{` or `{%` the cursor is inside, or -1. */
function openTemplate(text: string, cursor: number): number {
  const before = text.slice(0, cursor)
  const open = Math.max(before.lastIndexOf('{{'), before.lastIndexOf('{%'))
  if (open < 0) return -1
  const inside = before.slice(open + 2)
  return inside.includes('}}') || inside.includes('%}') ? -1 : open
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `list of ${value.length}`
  if (value === null) return 'null'
  if (typeof value === 'object') return 'object'
  const shown = JSON.stringify(value) ?? String(value)
  return shown.length > 24 ? `${shown.slice(0, 23)}…` : shown
}

/** The value at a path of keys and indexes, or `undefined`. */
function follow(value: unknown, path: string[]): unknown {
  let current = value
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

/** The names one level inside a value: an object's keys, a list's first indexes. */
function keysOf(value: unknown): [string, string][] {
  if (Array.isArray(value)) return value.slice(0, MAX_INDEXES).map((item, index) => [String(index), describe(item)])
  if (value && typeof value === 'object') return Object.entries(value).map(([key, item]) => [key, describe(item)])
  return []
}

/** What can follow a path of names (`[]`, `['nodes']`, `['nodes', 'fetch', 'output']`). */
function namesAfter(path: string[], source: CompletionSource): [string, string][] {
  const [root, ...rest] = path
  if (root === undefined) return ROOTS
  switch (root) {
    case 'trigger':
      return source.trigger === undefined ? [] : keysOf(follow(source.trigger, rest))
    case 'vars':
      return rest.length || !source.vars ? [] : source.vars.map((name) => [name, 'variable'])
    case 'execution':
      return rest.length ? [] : EXECUTION.map((name) => [name, 'execution'])
    case 'nodes': {
      const upstream = ancestors(source.nodeId, source.edges)
      if (!rest.length) return upstream.map((id) => [id, 'node'])
      const [id, port, ...keys] = rest
      if (!upstream.includes(id)) return []
      if (port === undefined) return (source.ports[id] ?? []).map((name) => [name, 'port'])
      const outputs = source.outputs[id]
      if (!outputs || !(port in outputs)) return []
      return keysOf(follow(outputs[port], keys))
    }
    default:
      return []
  }
}

/** The suggestions at `cursor` in `text`, or `null` when the cursor is not on a name
 * inside a template, or nothing is left to complete. */
export function completionsAt(text: string, cursor: number, source: CompletionSource): Completion | null {
  const open = openTemplate(text, cursor)
  if (open < 0) return null
  const inside = text.slice(open + 2, cursor)
  const match = /(?:[A-Za-z_]\w*(?:\.\w*)*)?$/.exec(inside)
  const token = match?.[0] ?? ''
  const start = cursor - token.length
  const previous = text[start - 1]
  if (previous === '.' || previous === ']' || previous === ')' || /\w/.test(previous ?? '')) return null
  if (!token && !/^[\s(]*$|[\s(,[=+\-*/<>!|]$/.test(inside)) return null
  const parts = token.split('.')
  const typed = parts.pop() ?? ''
  // Filters (`| title`) and words after a complete expression are not paths.
  if (!parts.length && /\|\s*$/.test(inside.slice(0, inside.length - token.length))) return null
  const from = cursor - typed.length
  const after = /^\w*/.exec(text.slice(cursor))?.[0] ?? ''
  const to = cursor + after.length
  const lower = typed.toLowerCase()
  const names = namesAfter(parts, source)
  const starts = names.filter(([name]) => name.toLowerCase().startsWith(lower))
  const contains = names.filter(([name]) => !name.toLowerCase().startsWith(lower) && name.toLowerCase().includes(lower))
  const items = [...starts, ...contains].map(([name, detail]): Suggestion => {
    if (IDENTIFIER.test(name) || (parts.length && /^\d+$/.test(name))) return { label: name, insert: name, from, detail }
    // A key that is no name (`content-type`) is read by subscription instead.
    return { label: name, insert: `[${JSON.stringify(name)}]`, from: from - 1, detail }
  })
  if (!items.length) return null
  if (items.length === 1 && items[0].label === typed + after) return null
  return { typed, from, to, items }
}

/** The text with a suggestion accepted, and where the cursor goes. */
export function acceptCompletion(text: string, completion: Completion, item: Suggestion): { text: string; cursor: number } {
  const next = text.slice(0, item.from) + item.insert + text.slice(completion.to)
  return { text: next, cursor: item.from + item.insert.length }
}
