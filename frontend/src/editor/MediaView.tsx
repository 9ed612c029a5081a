// A media value (MediaFormat) in the output inspector: an image previewed, text as text,
// audio and video with players, other files with their name, size, type and a download
// link; the raw JSON one click away.
import { useState } from 'react'
import { contentUrl, downloadName, formatSize, isLocalUrl, type MediaValue } from '../lib/media'
import { JsonTree } from './JsonTree'

export function MediaView({ value, name }: { value: MediaValue; name?: string }) {
  const [raw, setRaw] = useState(false)
  const url = contentUrl(value)
  const local = url !== null && isLocalUrl(url)
  const size = formatSize(value.size)
  return (
    <div className="media" data-testid="media" data-kind={value.kind}>
      <div className="media-head">
        {name !== undefined && <span className="json-key">{name}: </span>}
        <span className="pill">{value.kind}</span>
        <strong className="media-name" title={value.name ?? undefined}>
          {value.name ?? '(no name)'}
        </strong>
        <span className="muted small">
          {value.mime_type}
          {size && ` · ${size}`}
        </span>
        <div className="spacer" />
        {url && (
          <a className="button small" href={url} download={downloadName(value)} target={local ? undefined : '_blank'} rel="noreferrer" data-testid="media-download">
            Download
          </a>
        )}
        <button className="small" aria-pressed={raw} onClick={() => setRaw(!raw)} title="Show the value as JSON">
          {raw ? 'Preview' : 'JSON'}
        </button>
      </div>
      {raw ? (
        <div className="media-raw">
          <JsonTree value={value} plain />
        </div>
      ) : (
        <Preview value={value} url={local ? url : null} />
      )}
    </div>
  )
}

function Preview({ value, url }: { value: MediaValue; url: string | null }) {
  const [failed, setFailed] = useState(false)
  if (value.kind === 'text' && typeof value.data === 'string') return <pre className="media-text">{value.data}</pre>
  if (value.kind === 'json' && value.data !== undefined) {
    return (
      <div className="media-raw">
        <JsonTree value={value.data} />
      </div>
    )
  }
  if (!url) return value.uri ? <div className="muted small media-uri">{value.uri}</div> : null
  if (failed) return <div className="muted small">The content could not be loaded.</div>
  if (value.kind === 'image') return <img className="media-image" src={url} alt={value.name ?? 'image'} onError={() => setFailed(true)} />
  if (value.kind === 'audio') return <audio className="media-player" controls preload="metadata" src={url} onError={() => setFailed(true)} />
  if (value.kind === 'video') return <video className="media-player" controls preload="metadata" src={url} onError={() => setFailed(true)} />
  return null
}
