// Node types from the catalog, grouped by category; drag one onto the canvas, or click
// it (or press Enter in the search) to add it next to the selected node, or after the
// output port whose "+" was clicked (then only types that take an input are listed).
import { forwardRef, useDeferredValue, useMemo, useState, type KeyboardEvent } from 'react'
import type { NodeType } from '../api/types'
import { Markdown } from '../ui/Markdown'
import { CATEGORY_ORDER, categoryLabel, iconFor } from './format'
import { useEditor } from './store'

export const DRAG_TYPE = 'application/x-tav-node-type'

interface Props {
  onAdd: (type: string) => void
}

export const Palette = forwardRef<HTMLInputElement, Props>(function Palette({ onAdd }, searchRef) {
  const catalog = useEditor((state) => state.catalog)
  const after = useEditor((state) => (state.addingAfter && state.nodes.some((node) => node.id === state.addingAfter?.node) ? state.addingAfter : null))
  const [query, setQuery] = useState('')
  // The descriptions as Markdown come in a background render after the first paint: parsing
  // forty of them would otherwise delay the canvas by tens of milliseconds.
  const rich = useDeferredValue(true, false)
  const groups = useMemo(() => groupTypes([...catalog.values()], query, after !== null), [catalog, query, after])
  const first = groups[0]?.[1][0]

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' && first) {
      onAdd(first.type)
      setQuery('')
      event.currentTarget.blur()
    } else if (event.key === 'Escape') {
      setQuery('')
      useEditor.getState().addAfter(null)
      event.currentTarget.blur()
    }
  }

  return (
    <aside className="palette" aria-label="Node palette">
      {after && (
        <div className="palette-after" role="status" data-testid="adding-after">
          <span>
            Add after <strong>{after.node}</strong>
            {after.port !== 'output' && <code> {after.port}</code>}
          </span>
          <button className="icon" aria-label="Stop adding after this node" title="Stop adding after this node (Esc)" onClick={() => useEditor.getState().addAfter(null)}>
            ×
          </button>
        </div>
      )}
      <input ref={searchRef} className="search" placeholder="Search nodes  ( / )" aria-label="Search nodes" value={query} onChange={(event) => setQuery(event.target.value)} onKeyDown={onKeyDown} />
      <div className="palette-groups">
        {groups.map(([category, types]) => (
          <section key={category}>
            <h3>{categoryLabel(category)}</h3>
            {types.map((type) => (
              <button
                key={type.type}
                className={`palette-item cat-${type.category}`}
                draggable
                data-type={type.type}
                title={`${plainText(type.description)}\n\n${type.type} · click to add, or drag onto the canvas`}
                onDragStart={(event) => {
                  event.dataTransfer.setData(DRAG_TYPE, type.type)
                  event.dataTransfer.effectAllowed = 'move'
                }}
                onClick={() => onAdd(type.type)}
              >
                <span className="tav-node-icon">{iconFor(type.icon, type.category)}</span>
                <span className="palette-text">
                  <span className="palette-title">{type.title}</span>
                  {rich ? <Markdown className="palette-desc" text={type.description} inline /> : <span className="palette-desc">{plainText(type.description)}</span>}
                </span>
              </button>
            ))}
          </section>
        ))}
        {groups.length === 0 && <div className="muted small pad">No node type matches “{query}”.</div>}
      </div>
    </aside>
  )
})

/** A description as a tooltip shows it: without Markdown's backticks. */
function plainText(markdown: string): string {
  return markdown.replace(/`/g, '')
}

/** The types that match the words of `query`, by category; only those that take an input
 * when the new node is to be `connected`. */
export function groupTypes(types: NodeType[], query: string, connected = false): [string, NodeType[]][] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean)
  // A type the server could not load stays in the catalog (nodes of it show why) but
  // cannot be added.
  const matches = types.filter((type) => {
    if (type.available === false) return false
    if (connected && !Object.keys(type.inputs).length) return false
    const text = `${type.title} ${type.type} ${type.description} ${type.category}`.toLowerCase()
    return words.every((word) => text.includes(word))
  })
  const groups = new Map<string, NodeType[]>()
  for (const type of matches) groups.set(type.category, [...(groups.get(type.category) ?? []), type])
  const rank = (category: string) => {
    const index = CATEGORY_ORDER.indexOf(category)
    return index < 0 ? CATEGORY_ORDER.length : index
  }
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
}
