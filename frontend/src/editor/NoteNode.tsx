// A sticky note on the canvas: text in the document's `ui.notes`, never part of what runs.
// Double-click to write in it; drag its corner to resize it once it is selected.
import { NodeResizer, type NodeProps } from '@xyflow/react'
import { memo, useState } from 'react'
import { NOTE_COLORS, type NoteNode as Note } from '../lib/graph'
import { useEditor } from './store'

export const NoteNode = memo(function NoteNode({ id, data, selected }: NodeProps<Note>) {
  const [editing, setEditing] = useState(data.text === '')
  const update = useEditor((state) => state.updateNote)
  return (
    <div className={`note note-${data.color}${selected ? ' selected' : ''}`} data-testid={`note-${id}`} onDoubleClick={() => setEditing(true)}>
      <NodeResizer isVisible={selected} minWidth={120} minHeight={60} onResizeStart={() => useEditor.getState().onDragStart()} />
      {selected && (
        <div className="note-colors nodrag">
          {NOTE_COLORS.map((color) => (
            <button key={color} className={`note-swatch note-${color}${color === data.color ? ' active' : ''}`} title={color} aria-label={`Note colour ${color}`} onClick={() => update(id, { color })} />
          ))}
        </div>
      )}
      {editing ? (
        <textarea
          className="note-text nodrag nowheel"
          aria-label="Note text"
          autoFocus
          value={data.text}
          placeholder="Write a note…"
          onChange={(event) => update(id, { text: event.target.value })}
          onBlur={() => setEditing(false)}
          onKeyDown={(event) => {
            if (event.key === 'Escape') event.currentTarget.blur()
          }}
        />
      ) : (
        <div className="note-text" title="Double-click to edit">
          {data.text || <span className="muted">Double-click to write</span>}
        </div>
      )}
    </div>
  )
})
