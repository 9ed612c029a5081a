// A collapsible view of a JSON value: the first levels open, long strings cut, media
// values (at any depth) shown as media unless `plain`.
import { useState } from 'react'
import { isMedia } from '../lib/media'
import { MediaView } from './MediaView'

interface Props {
  value: unknown
  name?: string
  depth?: number
  /** Show media values as JSON too. */
  plain?: boolean
}

export function JsonTree({ value, name, depth = 0, plain = false }: Props) {
  const [open, setOpen] = useState(depth < 2)
  if (!plain && isMedia(value)) return <MediaView value={value} name={name} />
  const label = name !== undefined && <span className="json-key">{name}: </span>
  if (value === null || typeof value !== 'object') {
    return (
      <div className="json-line">
        {label}
        <Scalar value={value} />
      </div>
    )
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
  const [openMark, closeMark] = Array.isArray(value) ? ['[', ']'] : ['{', '}']
  return (
    <div className="json-node">
      <button className="json-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
        {open ? '▾' : '▸'} {label}
        <span className="muted">
          {openMark}
          {!open && `${entries.length} ${Array.isArray(value) ? 'items' : 'keys'}${closeMark}`}
        </span>
      </button>
      {open && (
        <div className="json-children">
          {entries.map(([key, child]) => (
            <JsonTree key={key} name={key} value={child} depth={depth + 1} plain={plain} />
          ))}
          <span className="muted">{closeMark}</span>
        </div>
      )}
    </div>
  )
}

function Scalar({ value }: { value: unknown }) {
  const [full, setFull] = useState(false)
  if (typeof value === 'string') {
    const long = value.length > 300 && !full
    return (
      <span className="json-string">
        "{long ? value.slice(0, 300) : value}"
        {long && (
          <button className="link" onClick={() => setFull(true)}>
            … {value.length - 300} more
          </button>
        )}
      </span>
    )
  }
  return <span className={`json-${value === null ? 'null' : typeof value}`}>{value === undefined ? 'undefined' : JSON.stringify(value)}</span>
}
