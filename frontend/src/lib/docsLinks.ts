// Descriptions of node types and params point at the docs by their path in the repository
// ("see docs/reference/triggers.md"). The server serves that folder at /guide/, so such a
// path becomes a link there.

/** Where the server serves the files under docs/. */
export const GUIDE = '/guide/'

const PATH = String.raw`docs\/((?:[\w-]+\/)*[\w.-]+\.md)(#[\w-]+)?`
// A code span (left as it is unless it is only a docs path), or a docs path in the text
// that is not already a link's text or target.
const FOUND = new RegExp(String.raw`(\x60[^\x60\n]*\x60)|(?<![[(\w/])${PATH}`, 'g')
const WHOLE = new RegExp(String.raw`^\x60${PATH}\x60$`)

/** The Markdown with every docs path made a link to the served docs. */
export function linkDocs(markdown: string): string {
  return markdown.replace(FOUND, (found: string, code: string | undefined, path: string | undefined, anchor: string | undefined) => {
    if (code === undefined) return `[${found}](${GUIDE}${path}${anchor ?? ''})`
    const whole = WHOLE.exec(code)
    return whole ? `[${code}](${GUIDE}${whole[1]}${whole[2] ?? ''})` : code
  })
}

/** Where a link written in a description goes: `docs/...` to the served docs; else `null`. */
export function docsHref(url: string): string | null {
  return url.startsWith('docs/') ? GUIDE + url.slice('docs/'.length) : null
}
