// Media values (MediaFormat, docs/reference/multimodal.md): recognising them in outputs,
// and where the browser finds their content.
import { API } from '../api/client'

export type MediaKind = 'text' | 'json' | 'image' | 'audio' | 'video' | 'file'

export interface MediaValue {
  media: 'v1'
  kind: MediaKind
  mime_type: string
  data?: unknown
  uri?: string
  name?: string | null
  size?: number | null
  metadata?: Record<string, unknown> | null
}

const KINDS = new Set(['text', 'json', 'image', 'audio', 'video', 'file'])
const FIELDS = new Set(['media', 'kind', 'mime_type', 'data', 'uri', 'name', 'size', 'metadata'])
const FILE_ID = /^[0-9a-f]{32}$/
const FILES_PATH = /^\/api\/v1\/files\/[0-9a-f]{32}\/content$/

/** True for a media value: the `"media": "v1"` marker, a known kind, a type, and either
 * `data` or `uri`. A plain object that merely has a `kind` key is not one. */
export function isMedia(value: unknown): value is MediaValue {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false
  const v = value as Record<string, unknown>
  if (v.media !== 'v1' || typeof v.kind !== 'string' || !KINDS.has(v.kind) || typeof v.mime_type !== 'string') return false
  if (Object.keys(v).some((key) => !FIELDS.has(key))) return false
  const hasData = 'data' in v && v.data !== undefined
  const hasUri = typeof v.uri === 'string'
  return hasData !== hasUri
}

/** The id of a stored file (`file:<id>`), else null. */
export function fileId(value: MediaValue): string | null {
  const id = value.uri?.startsWith('file:') ? value.uri.slice(5) : ''
  return FILE_ID.test(id) ? id : null
}

/** Where the browser gets the content: a `data:` URL for inline binary content, the
 * server's download route for a stored file, the address of an http(s) uri; null when
 * there is none (inline text and JSON are shown as they are). */
export function contentUrl(value: MediaValue): string | null {
  if (typeof value.data === 'string' && value.kind !== 'text' && value.kind !== 'json') {
    return `data:${value.mime_type || 'application/octet-stream'};base64,${value.data}`
  }
  if (typeof value.uri !== 'string') return null
  const id = fileId(value)
  if (id) return `${API}/files/${id}/content`
  const url = value.metadata?.url
  if (typeof url === 'string' && FILES_PATH.test(url)) return url
  if (/^https?:\/\//i.test(value.uri)) return value.uri
  return null
}

/** True when the content comes from this server or the value itself (never loaded from a
 * third-party address just by opening the output). */
export function isLocalUrl(url: string): boolean {
  return url.startsWith('data:') || url.startsWith(`${API}/files/`)
}

/** The name to download the content as. */
export function downloadName(value: MediaValue): string {
  if (value.name) return value.name
  const ext = value.mime_type.split('/')[1]?.split(/[+;]/)[0]
  return ext ? `${value.kind}.${ext}` : value.kind
}

/** `2048` → `2 KB`. */
export function formatSize(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return ''
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let size = bytes / 1024
  let unit = 0
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024
    unit += 1
  }
  return `${size >= 10 ? Math.round(size) : Math.round(size * 10) / 10} ${units[unit]}`
}

/** The address a `trigger.webhook` node answers at, or null while its path is not set (or
 * is a template, which activation refuses). Leading and trailing `/` are dropped, as the
 * server does. */
export function webhookUrl(origin: string, path: unknown): string | null {
  if (typeof path !== 'string') return null
  const clean = path.trim().replace(/^\/+|\/+$/g, '')
  if (!clean || clean.includes('{{')) return null
  return `${origin.replace(/\/+$/, '')}/webhook/${clean}`
}

/** The run input text with `value` set at `key` (the input is kept when it is a JSON
 * object; anything else is replaced by a new object). */
export function withInputValue(text: string, key: string, value: unknown): string {
  let input: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(text.trim() || '{}')
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed as Record<string, unknown>
  } catch {
    // not JSON: start a new object
  }
  return JSON.stringify({ ...input, [key.trim() || 'file']: value }, null, 2)
}
