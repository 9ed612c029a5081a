// The tool param of an MCP node: the tools of the server its credential names, to choose
// from, with the chosen tool's description and the schema of its arguments.
import { useEffect, useState } from 'react'
import { api } from '../api/client'
import type { McpTool } from '../api/types'

interface Props {
  label: string
  credential: unknown
  value: unknown
  onChange: (value: string | undefined) => void
}

type Listing = { tools: McpTool[] } | { error: string } | null

export function McpToolPicker({ label, credential, value, onChange }: Props) {
  const id = typeof credential === 'string' && credential && !credential.includes('{{') ? credential : null
  const [listing, setListing] = useState<Listing>(null)
  useEffect(() => {
    if (!id) return
    let current = true
    setListing(null)
    api.mcpTools(id).then(
      (tools) => current && setListing({ tools }),
      (error: Error) => current && setListing({ error: error.message }),
    )
    return () => {
      current = false
    }
  }, [id])
  const name = typeof value === 'string' ? value : ''
  const tools = listing && 'tools' in listing ? listing.tools : null
  const chosen = tools?.find((tool) => tool.name === name)
  if (!id) return <p className="muted small">Choose the MCP server first (its credential).</p>
  return (
    <div className="mcp-tool-picker">
      {tools ? (
        <select aria-label={label} value={name} onChange={(event) => onChange(event.target.value || undefined)}>
          <option value="">— choose a tool —</option>
          {name && !chosen && <option value={name}>{`${name} (not offered)`}</option>}
          {tools.map((tool) => (
            <option key={tool.name} value={tool.name}>
              {tool.title ? `${tool.title} (${tool.name})` : tool.name}
            </option>
          ))}
        </select>
      ) : (
        <input aria-label={label} value={name} placeholder="tool name" onChange={(event) => onChange(event.target.value || undefined)} />
      )}
      {listing === null && <p className="muted small">Asking the server for its tools…</p>}
      {listing && 'error' in listing && (
        <div className="field-error" role="alert">
          The server's tools could not be listed: {listing.error}
        </div>
      )}
      {chosen && (
        <div className="mcp-tool" data-tool={chosen.name}>
          {chosen.description && <p className="field-help">{chosen.description}</p>}
          <div className="muted small">Arguments (JSON Schema)</div>
          <pre className="mcp-tool-schema">{JSON.stringify(chosen.input_schema, null, 2)}</pre>
        </div>
      )}
    </div>
  )
}
