import { describe, expect, it } from 'vitest'
import { docsHref, linkDocs } from './docsLinks'

describe('links to the served docs', () => {
  it('makes docs paths in descriptions links under /guide/', () => {
    expect(linkDocs('Only while the workflow is active; see docs/reference/triggers.md.')).toBe(
      'Only while the workflow is active; see [docs/reference/triggers.md](/guide/reference/triggers.md).',
    )
    expect(linkDocs('See docs/reference/built-in-nodes.md#core-set, then')).toBe('See [docs/reference/built-in-nodes.md#core-set](/guide/reference/built-in-nodes.md#core-set), then')
    expect(linkDocs('(docs/api/rest.md)')).toBe('(docs/api/rest.md)') // a link's target, not its text
  })

  it('links a code span that is a docs path, and leaves other code alone', () => {
    expect(linkDocs('see `docs/reference/variables.md`')).toBe('see [`docs/reference/variables.md`](/guide/reference/variables.md)')
    expect(linkDocs('`cat docs/README.md` and `/webhook/<path>`')).toBe('`cat docs/README.md` and `/webhook/<path>`')
  })

  it('leaves existing links and other paths alone', () => {
    const text = '[the format](docs/reference/workflow-format.md) and mydocs/x.md and src/docs/y.md'
    expect(linkDocs(text)).toBe(text)
    expect(docsHref('docs/reference/workflow-format.md#nodes')).toBe('/guide/reference/workflow-format.md#nodes')
    expect(docsHref('https://example.com')).toBeNull()
  })
})
