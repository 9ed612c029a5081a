// The signed-in member's own API keys, for scripts: each acts with the member's role. A
// new key's secret is shown once, right after it is made; the server keeps only its hash.
import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { team } from '../api/team'
import type { ApiKey, ApiKeyCreated, User } from '../api/types'
import { useReloadingAction } from '../ui/action'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { ListTable } from '../ui/ListTable'
import { Modal } from '../ui/Modal'
import { relativeTime } from '../ui/time'

export function ApiKeysPage({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const [keys, setKeys] = useState<ApiKey[] | null>(null)
  const [name, setName] = useState('')
  const [created, setCreated] = useState<ApiKeyCreated | null>(null)
  const [error, setError] = useState<string | null>(null)

  const load = useCallback(() => {
    team.apiKeys().then(setKeys, (failure: Error) => setError(failure.message))
  }, [])
  useEffect(load, [load])

  const act = useReloadingAction(load, setError)
  const create = (event: FormEvent) => {
    event.preventDefault()
    act(async () => {
      setCreated(await team.createApiKey(name.trim()))
      setName('')
    })
  }

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows">
        <div className="toolbar">
          <h1>API keys</h1>
        </div>
        <p className="muted">
          Your keys, for scripts and other programs: <code>Authorization: Bearer &lt;key&gt;</code>. Each acts as you, with your role ({user.role}).
        </p>
        <ErrorBanner error={error} />
        <form className="invite-form" onSubmit={create} aria-label="New API key">
          <label>
            New key for
            <input required value={name} maxLength={100} onChange={(event) => setName(event.target.value)} placeholder="what it is for: ci, backup script…" />
          </label>
          <button className="primary" type="submit" disabled={!name.trim()}>
            Create key
          </button>
        </form>
        <ListTable
          items={keys}
          label="Your API keys"
          columns={['Name', 'Starts with', 'Created', 'Last used', '']}
          empty="No keys yet."
          row={(key) => (
            <tr key={key.id} data-testid="api-key-row">
              <td className="workflow-name">{key.name}</td>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td className="muted" title={key.created_at}>
                {relativeTime(key.created_at)}
              </td>
              <td className="muted">{key.last_used_at ? relativeTime(key.last_used_at) : 'never'}</td>
              <td className="row-actions">
                <button className="danger" onClick={() => act(() => team.deleteApiKey(key.id))} aria-label={`Revoke ${key.name}`}>
                  Revoke
                </button>
              </td>
            </tr>
          )}
        />
      </main>
      {created && (
        <Modal title={`Key “${created.name}”`} onClose={() => setCreated(null)} footer={<button className="primary" onClick={() => setCreated(null)}>Done</button>}>
          <p>Copy the key now: it is not shown again.</p>
          <div className="copy-field">
            <input readOnly aria-label="The new key" value={created.key} onFocus={(event) => event.target.select()} />
          </div>
        </Modal>
      )}
    </div>
  )
}
