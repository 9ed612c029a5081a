// Descriptions (of node types, params, ports) are Markdown: code spans, emphasis, lists and
// links, with paths of the docs made links to the docs the server serves. Raw HTML in
// them is dropped, never rendered.
import { memo } from 'react'
import ReactMarkdown, { defaultUrlTransform, type Components } from 'react-markdown'
import { docsHref, linkDocs } from '../lib/docsLinks'

// Links open beside the editor, so that following one never leaves unsaved work.
const COMPONENTS: Components = {
  a: ({ node: _, ...props }) => <a {...props} target="_blank" rel="noreferrer" />,
}
// One line inside a button (the palette): no blocks and no links, only their text.
const INLINE = ['p', 'code', 'em', 'strong']
const INLINE_COMPONENTS: Components = { p: ({ children }) => <>{children}</> }

function urlTransform(url: string): string {
  return docsHref(url) ?? defaultUrlTransform(url)
}

interface Props {
  text: string
  className?: string
  /** Only the first paragraph, as a line of text (no links, no blocks). */
  inline?: boolean
}

// Memoised: a description is parsed again only when it changes, not each time the palette
// or the panel around it draws again (a search typed, a param edited).
export const Markdown = memo(function Markdown({ text, className, inline }: Props) {
  if (inline) {
    return (
      <span className={className}>
        <ReactMarkdown allowedElements={INLINE} unwrapDisallowed skipHtml components={INLINE_COMPONENTS}>
          {firstParagraph(text)}
        </ReactMarkdown>
      </span>
    )
  }
  return (
    <div className={`markdown${className ? ` ${className}` : ''}`}>
      <ReactMarkdown skipHtml urlTransform={urlTransform} components={COMPONENTS}>
        {linkDocs(text)}
      </ReactMarkdown>
    </div>
  )
})

function firstParagraph(text: string): string {
  return text.trim().split(/\n\s*\n/)[0]
}
