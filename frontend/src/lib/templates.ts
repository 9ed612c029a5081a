// `{{ ... }}` templates inside string params, split for highlighting.

export interface Segment {
  text: string
  template: boolean
}

const TEMPLATE = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g

export function templateSegments(text: string): Segment[] {
  const segments: Segment[] = []
  let last = 0
  for (const match of text.matchAll(TEMPLATE)) {
    const start = match.index ?? 0
    if (start > last) segments.push({ text: text.slice(last, start), template: false })
    segments.push({ text: match[0], template: true })
    last = start + match[0].length
  }
  if (last < text.length) segments.push({ text: text.slice(last), template: false })
  return segments
}

export function hasTemplate(text: string): boolean {
  return templateSegments(text).some((segment) => segment.template)
}
