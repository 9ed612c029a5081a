// Auto-layout: a layered drawing, left to right, for "Tidy up" and for documents written
// without positions.
//
// Written by hand rather than taken from dagre or elkjs: workflows are small DAGs with few
// crossings, and the three classic steps below (longest-path layers, barycenter ordering,
// placement near the parents) draw them well in about a hundred lines. dagre adds ~100 KB
// and has had little upkeep; elkjs adds ~1.5 MB and runs in a worker. Both would be worth
// it for large graphs with many crossings, which workflows rarely are.

export interface Size {
  width: number
  height: number
}

export interface LayoutOptions {
  /** Each node's size (measured on the canvas); `DEFAULT_SIZE` when unknown. */
  size?: (id: string) => Size | undefined
  /** Horizontal space between layers, and vertical space between nodes of a layer. */
  gapX?: number
  gapY?: number
}

export const DEFAULT_SIZE: Size = { width: 200, height: 50 }
const SWEEPS = 4

/** Positions (top left) of `ids`, given the directed `links` [from, to] between them. */
export function layeredLayout(ids: string[], links: [string, string][], options: LayoutOptions = {}): Map<string, { x: number; y: number }> {
  const size = (id: string) => options.size?.(id) ?? DEFAULT_SIZE
  const known = new Set(ids)
  const edges = links.filter(([a, b]) => a !== b && known.has(a) && known.has(b))
  const layers = orderLayers(ids, edges, assignLayers(ids, edges))
  return place(layers, edges, size, options.gapX ?? 80, options.gapY ?? 40)
}

/** Longest path from a root: each node one layer right of its furthest parent. Nodes on
 * a cycle (an invalid document) go one layer right of everything placed before them. */
export function assignLayers(ids: string[], edges: [string, string][]): Map<string, number> {
  const parents = new Map<string, string[]>(ids.map((id) => [id, []]))
  const children = new Map<string, string[]>(ids.map((id) => [id, []]))
  for (const [a, b] of edges) {
    parents.get(b)!.push(a)
    children.get(a)!.push(b)
  }
  const waiting = new Map(ids.map((id) => [id, parents.get(id)!.length]))
  const layer = new Map<string, number>()
  const queue = ids.filter((id) => waiting.get(id) === 0)
  for (let i = 0; i < queue.length || layer.size < ids.length; i++) {
    if (i >= queue.length) {
      const stuck = ids.find((id) => !layer.has(id) && !queue.includes(id))!
      queue.push(stuck) // break the cycle here
    }
    const id = queue[i]
    layer.set(id, Math.max(0, ...parents.get(id)!.map((p) => (layer.has(p) ? layer.get(p)! + 1 : 0))))
    for (const child of children.get(id)!) {
      const left = waiting.get(child)! - 1
      waiting.set(child, left)
      if (left === 0 && !layer.has(child)) queue.push(child)
    }
  }
  return layer
}

/** Layers in order, each ordered to reduce crossings: alternate sweeps place every node
 * at the mean position of its neighbours in the layer before (then after) it. */
function orderLayers(ids: string[], edges: [string, string][], layer: Map<string, number>): string[][] {
  const count = Math.max(0, ...layer.values()) + 1
  const layers: string[][] = Array.from({ length: count }, () => [])
  for (const id of ids) layers[layer.get(id)!].push(id)
  const parents = neighbours(edges, 1, 0)
  const children = neighbours(edges, 0, 1)
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const down = sweep % 2 === 0
    const range = down ? [...layers.keys()].slice(1) : [...layers.keys()].reverse().slice(1)
    for (const index of range) {
      const reference = layers[down ? index - 1 : index + 1]
      const rank = new Map(reference.map((id, i) => [id, i / Math.max(1, reference.length - 1)]))
      const adjacent = down ? parents : children
      const key = new Map<string, number>()
      layers[index].forEach((id, i) => {
        const ranks = (adjacent.get(id) ?? []).filter((n) => rank.has(n)).map((n) => rank.get(n)!)
        key.set(id, ranks.length ? mean(ranks) : i / Math.max(1, layers[index].length - 1))
      })
      layers[index] = [...layers[index]].sort((a, b) => key.get(a)! - key.get(b)!)
    }
  }
  return layers
}

/** x by layer; y near the parents' centre, without overlap inside a layer. */
function place(layers: string[][], edges: [string, string][], size: (id: string) => Size, gapX: number, gapY: number): Map<string, { x: number; y: number }> {
  const parents = neighbours(edges, 1, 0)
  const centre = new Map<string, number>()
  const positions = new Map<string, { x: number; y: number }>()
  let x = 0
  for (const layer of layers) {
    const wanted = layer.map((id) => {
      const placed = (parents.get(id) ?? []).filter((p) => centre.has(p)).map((p) => centre.get(p)!)
      return placed.length ? mean(placed) : null
    })
    // Stack in order, each as near its wanted centre as the one above allows ...
    const tops: number[] = []
    let bottom = -Infinity
    layer.forEach((id, i) => {
      const height = size(id).height
      const fallback = bottom === -Infinity ? 0 : bottom + gapY
      const top = Math.max(wanted[i] === null ? fallback : wanted[i]! - height / 2, bottom + gapY)
      tops.push(top)
      bottom = top + height
    })
    // ... then move the whole layer to where it is, on average, nearest what it wanted.
    const offsets = layer.flatMap((id, i) => (wanted[i] === null ? [] : [wanted[i]! - (tops[i] + size(id).height / 2)]))
    const shift = offsets.length ? mean(offsets) : 0
    layer.forEach((id, i) => {
      const top = snap(tops[i] + shift)
      positions.set(id, { x, y: top })
      centre.set(id, top + size(id).height / 2)
    })
    x += Math.max(DEFAULT_SIZE.width, ...layer.map((id) => size(id).width)) + gapX
  }
  return positions
}

function neighbours(edges: [string, string][], key: 0 | 1, value: 0 | 1): Map<string, string[]> {
  const found = new Map<string, string[]>()
  for (const edge of edges) {
    const list = found.get(edge[key])
    if (list) list.push(edge[value])
    else found.set(edge[key], [edge[value]])
  }
  return found
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

function snap(value: number): number {
  return Math.round(value / 10) * 10
}
