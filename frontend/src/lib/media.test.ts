import { describe, expect, it } from 'vitest'
import { contentUrl, downloadName, fileId, formatSize, isMedia, webhookUrl, withInputValue, type MediaValue } from './media'

const PNG = { media: 'v1', kind: 'image', mime_type: 'image/png', data: 'iVBORw0KGgo=', name: 'pixel.png', size: 70, metadata: {} }
const ID = '3f0c2b6e9a0d4a51b1f4f1b0d7c9e2aa'
const CSV = {
  media: 'v1',
  kind: 'text',
  mime_type: 'text/csv',
  uri: `file:${ID}`,
  name: 'orders.csv',
  size: 2048,
  metadata: { file_id: ID, url: `/api/v1/files/${ID}/content`, sha256: 'ab' },
}

describe('isMedia', () => {
  it('recognises media values by their marker', () => {
    expect(isMedia(PNG)).toBe(true)
    expect(isMedia(CSV)).toBe(true)
    expect(isMedia({ media: 'v1', kind: 'json', mime_type: 'application/json', data: null })).toBe(true)
  })
  it('refuses look-alikes', () => {
    expect(isMedia({ kind: 'image', mime_type: 'image/png', data: 'x' })).toBe(false)
    expect(isMedia({ ...PNG, media: 'v2' })).toBe(false)
    expect(isMedia({ ...PNG, kind: 'picture' })).toBe(false)
    expect(isMedia({ ...PNG, uri: 'file:x' })).toBe(false) // both data and uri
    expect(isMedia({ media: 'v1', kind: 'file', mime_type: 'a/b' })).toBe(false) // neither
    expect(isMedia({ ...PNG, extra: 1 })).toBe(false)
    expect(isMedia([PNG])).toBe(false)
    expect(isMedia(null)).toBe(false)
    expect(isMedia('v1')).toBe(false)
  })
})

describe('contentUrl', () => {
  it('makes a data URL of inline binary content', () => {
    expect(contentUrl(PNG as MediaValue)).toBe('data:image/png;base64,iVBORw0KGgo=')
  })
  it('points a stored file at the download route', () => {
    expect(fileId(CSV as MediaValue)).toBe(ID)
    expect(contentUrl(CSV as MediaValue)).toBe(`/api/v1/files/${ID}/content`)
  })
  it('falls back on metadata.url of the files API only', () => {
    const other = { ...CSV, uri: 'email/abc/report.pdf' } as MediaValue
    expect(contentUrl(other)).toBe(`/api/v1/files/${ID}/content`)
    expect(contentUrl({ ...other, metadata: { url: 'javascript:alert(1)' } })).toBeNull()
  })
  it('links http(s) addresses and ignores other schemes', () => {
    const remote = { media: 'v1', kind: 'file', mime_type: 'application/pdf', uri: 'https://example.com/a.pdf' } as MediaValue
    expect(contentUrl(remote)).toBe('https://example.com/a.pdf')
    expect(contentUrl({ ...remote, uri: 'javascript:alert(1)' })).toBeNull()
    expect(contentUrl({ ...remote, uri: 'file:not-an-id' })).toBeNull()
  })
  it('has none for inline text and JSON', () => {
    expect(contentUrl({ media: 'v1', kind: 'text', mime_type: 'text/plain', data: 'hi' })).toBeNull()
  })
})

describe('helpers', () => {
  it('names downloads', () => {
    expect(downloadName(CSV as MediaValue)).toBe('orders.csv')
    expect(downloadName({ media: 'v1', kind: 'image', mime_type: 'image/svg+xml', data: '' })).toBe('image.svg')
  })
  it('formats sizes', () => {
    expect(formatSize(70)).toBe('70 B')
    expect(formatSize(2048)).toBe('2 KB')
    expect(formatSize(1536)).toBe('1.5 KB')
    expect(formatSize(5 * 1024 * 1024)).toBe('5 MB')
    expect(formatSize(null)).toBe('')
  })
  it('builds webhook URLs as the server serves them', () => {
    expect(webhookUrl('http://127.0.0.1:8000', '/orders/')).toBe('http://127.0.0.1:8000/webhook/orders')
    expect(webhookUrl('http://h/', 'a/b')).toBe('http://h/webhook/a/b')
    expect(webhookUrl('http://h', '')).toBeNull()
    expect(webhookUrl('http://h', '{{ vars.path }}')).toBeNull()
    expect(webhookUrl('http://h', undefined)).toBeNull()
  })
  it('puts a file value into the run input', () => {
    const value = { media: 'v1', uri: `file:${ID}` }
    expect(JSON.parse(withInputValue('{"name": "Ada"}', 'file', value))).toEqual({ name: 'Ada', file: value })
    expect(JSON.parse(withInputValue('not json', 'doc', value))).toEqual({ doc: value })
    expect(JSON.parse(withInputValue('[1]', ' ', value))).toEqual({ file: value })
  })
})
