// Runtime settings (pool limits, retention, the AI default model chain) and global
// variables. Both are stored by the server and apply at once, without a restart.
import { useCallback, useEffect, useState } from 'react'
import { api, ApiError } from '../api/client'
import type { CredentialKind, CredentialSummary, ModelLink, RuntimeSettings, User, Variable } from '../api/types'
import { forgetVariables } from '../editor/inputs'
import { chatCredentials, providerTitles } from '../lib/providers'
import { canEdit, managesUsers } from '../lib/roles'
import { parseJson } from '../lib/schemaForm'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { FormModal } from '../ui/Modal'

export function SettingsPage({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const admin = managesUsers(user.role)
  const editing = canEdit(user.role)
  const [settings, setSettings] = useState<RuntimeSettings | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    api.settings().then(setSettings, (failure: Error) => setError(failure.message))
  }, [])
  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="page-body">
        <h1>Settings</h1>
        <p className="muted">
          These settings are kept by the server and apply at once; each one set here wins over its <code>TAV_*</code> environment variable. The rest of the
          configuration is environment variables (see the deployment docs).
        </p>
        <ErrorBanner error={error} />
        {!admin && <p className="muted small">Only an admin changes the runtime settings{editing ? '' : ', and only an editor the variables'}.</p>}
        {settings && (
          <fieldset className="plain" disabled={!admin}>
            <Execution settings={settings} onSaved={setSettings} />
            <ModelChain settings={settings} onSaved={setSettings} />
          </fieldset>
        )}
        <fieldset className="plain" disabled={!editing}>
          <Variables />
        </fieldset>
      </main>
    </div>
  )
}

/** Saves a part of the settings, with the server's answer or its error. */
function useSave(onSaved: (settings: RuntimeSettings) => void) {
  const [state, setState] = useState<{ busy: boolean; error: string | null; saved: boolean }>({ busy: false, error: null, saved: false })
  const fail = useCallback((error: string) => setState({ busy: false, error, saved: false }), [])
  const save = async (change: Partial<RuntimeSettings>) => {
    setState({ busy: true, error: null, saved: false })
    try {
      onSaved(await api.saveSettings(change))
      setState({ busy: false, error: null, saved: true })
    } catch (failure) {
      setState({ busy: false, error: problemText(failure), saved: false })
    }
  }
  return { ...state, save, fail }
}

function problemText(failure: unknown): string {
  if (failure instanceof ApiError && Array.isArray(failure.details)) {
    return [failure.message, ...(failure.details as { location?: string; message: string }[]).map((p) => `${(p.location ?? '').replace(/^body\./, '')}: ${p.message}`)].join('\n')
  }
  return (failure as Error).message
}

function Execution({ settings, onSaved }: { settings: RuntimeSettings; onSaved: (s: RuntimeSettings) => void }) {
  const [pools, setPools] = useState(() => Object.entries(settings.pools).map(([name, limit]) => ({ name, limit: String(limit) })))
  const [defaultLimit, setDefaultLimit] = useState(String(settings.pool_default_limit))
  const [maxAge, setMaxAge] = useState(settings.retention_max_age_days === null ? '' : String(settings.retention_max_age_days))
  const [maxCount, setMaxCount] = useState(settings.retention_max_count === null ? '' : String(settings.retention_max_count))
  const { busy, error, saved, save, fail } = useSave((next) => {
    onSaved(next)
    setPools(Object.entries(next.pools).map(([name, limit]) => ({ name, limit: String(limit) })))
  })
  const submit = () => {
    const numbers = [...pools.map((pool) => pool.limit), defaultLimit, maxAge, maxCount].filter((text) => text.trim() !== '')
    if (numbers.some((text) => !Number.isFinite(Number(text)))) return fail('Limits and retention are numbers (leave retention empty to keep everything).')
    return save({
      pools: Object.fromEntries(pools.filter((pool) => pool.name.trim()).map((pool) => [pool.name.trim(), Number(pool.limit)])),
      pool_default_limit: Number(defaultLimit),
      retention_max_age_days: maxAge.trim() === '' ? null : Number(maxAge),
      retention_max_count: maxCount.trim() === '' ? null : Number(maxCount),
    })
  }
  return (
    <section className="card" aria-label="Execution">
      <h2>Execution</h2>
      <h4>Pools: how many nodes of each pool run at once</h4>
      <div className="pool-rows" aria-label="Pools">
        {pools.map((pool, index) => (
          <div className="row" key={index}>
            <input aria-label="Pool name" value={pool.name} placeholder="pool name" onChange={(event) => setPools(pools.map((p, i) => (i === index ? { ...p, name: event.target.value } : p)))} />
            <input className="number" aria-label={`Limit of ${pool.name || 'the pool'}`} inputMode="numeric" value={pool.limit} onChange={(event) => setPools(pools.map((p, i) => (i === index ? { ...p, limit: event.target.value } : p)))} />
            <button className="icon" title="Back to its default" aria-label={`Remove ${pool.name}`} onClick={() => setPools(pools.filter((_, i) => i !== index))}>
              ×
            </button>
          </div>
        ))}
      </div>
      <div className="row">
        <button className="small" onClick={() => setPools([...pools, { name: '', limit: '4' }])}>
          + Add a pool
        </button>
        <div className="spacer" />
        <label className="check">
          Pools not listed
 <input className="number" aria-label="Default pool limit" inputMode="numeric" value={defaultLimit} onChange={(event) => setDefaultLimit(event.target.value)} />
        </label>
      </div>
      <h4>Retention: finished executions are pruned hourly</h4>
      <div className="field-grid">
        <label>
          Keep for at most (days)
          <input aria-label="Retention days" inputMode="decimal" value={maxAge} placeholder="forever" onChange={(event) => setMaxAge(event.target.value)} />
        </label>
        <label>
          Keep at most (executions)
          <input aria-label="Retention count" inputMode="numeric" value={maxCount} placeholder="all" onChange={(event) => setMaxCount(event.target.value)} />
        </label>
      </div>
      <Footer busy={busy} error={error} saved={saved} onSave={submit} />
    </section>
  )
}

function ModelChain({ settings, onSaved }: { settings: RuntimeSettings; onSaved: (s: RuntimeSettings) => void }) {
  const [chain, setChain] = useState<ModelLink[]>(settings.ai_default_models)
  const [credentials, setCredentials] = useState<CredentialSummary[]>([])
  // Which kinds are chat providers is the server's to say (the credential kinds list).
  const [kinds, setKinds] = useState<CredentialKind[]>([])
  const { busy, error, saved, save, fail } = useSave(onSaved)
  useEffect(() => {
    Promise.all([api.credentials(), api.credentialKinds()]).then(
      ([items, found]) => {
        setKinds(found)
        setCredentials(chatCredentials(items, found))
      },
      (failure: Error) => fail(`The credentials to choose from could not be read: ${failure.message}`),
    )
  }, [fail])
  const move = (index: number, by: number) => {
    const next = [...chain]
    const [link] = next.splice(index, 1)
    next.splice(index + by, 0, link)
    setChain(next)
  }
  return (
    <section className="card" aria-label="AI default models">
      <h2>AI default models</h2>
      <p className="muted small">
        AI nodes that name no model try these in order: when a provider fails, is rate limited or times out, the next one answers. Providers are the
        credentials of an LLM provider{kinds.length > 0 && ` (${providerTitles(kinds)})`}.
      </p>
      {chain.length === 0 && <p className="muted small">No default chain: AI nodes must name their models.</p>}
      {chain.map((link, index) => (
        <div className="row" key={index} data-testid="model-link">
          <span className="muted small">{index + 1}.</span>
          <select aria-label={`Provider ${index + 1}`} value={link.credential} onChange={(event) => setChain(chain.map((l, i) => (i === index ? { ...l, credential: event.target.value } : l)))}>
            <option value="">— a chat credential —</option>
            {!credentials.some((c) => c.id === link.credential) && link.credential && <option value={link.credential}>{link.credential} (not found)</option>}
            {credentials.map((credential) => (
              <option key={credential.id} value={credential.id}>
                {credential.name} · {credential.kind}
              </option>
            ))}
          </select>
          <input aria-label={`Model ${index + 1}`} placeholder="model, e.g. gpt-4o-mini" value={link.model} onChange={(event) => setChain(chain.map((l, i) => (i === index ? { ...l, model: event.target.value } : l)))} />
          <button className="icon" disabled={index === 0} onClick={() => move(index, -1)} aria-label="Move up" title="Try earlier">
            ↑
          </button>
          <button className="icon" disabled={index === chain.length - 1} onClick={() => move(index, 1)} aria-label="Move down" title="Try later">
            ↓
          </button>
          <button className="icon" onClick={() => setChain(chain.filter((_, i) => i !== index))} aria-label={`Remove model ${index + 1}`}>
            ×
          </button>
        </div>
      ))}
      <div className="row">
        <button className="small" disabled={chain.length >= 16} onClick={() => setChain([...chain, { credential: credentials[0]?.id ?? '', model: '' }])}>
          + Add a model
        </button>
      </div>
      <Footer busy={busy} error={error} saved={saved} onSave={() => save({ ai_default_models: chain })} />
    </section>
  )
}

function Footer({ busy, error, saved, onSave }: { busy: boolean; error: string | null; saved: boolean; onSave: () => void }) {
  return (
    <>
      <ErrorBanner error={error} />
      <div className="actions">
        {saved && (
          <span className="muted small" role="status">
            Saved
          </span>
        )}
        <button className="primary" onClick={onSave} disabled={busy}>
          Save
        </button>
      </div>
    </>
  )
}

function Variables() {
  const [items, setItems] = useState<Variable[] | null>(null)
  const [editing, setEditing] = useState<Variable | 'new' | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(() => {
    forgetVariables() // the editor's suggestions ask again
    api.variables().then(setItems, (failure: Error) => setError(failure.message))
  }, [])
  useEffect(load, [load])
  const remove = async (name: string) => {
    try {
      await api.deleteVariable(name)
      load()
    } catch (failure) {
      setError(problemText(failure))
    }
  }
  return (
    <section className="card" aria-label="Variables">
      <h2>
        Variables
        <div className="spacer" />
        <button className="small" onClick={() => setEditing('new')}>
          + Add a variable
        </button>
      </h2>
      <p className="muted small">
        Available to every workflow as <code>{'{{ vars.name }}'}</code>; a workflow's own variables win over them. Not secret: use credentials for keys and
        passwords.
      </p>
      <ErrorBanner error={error} />
      {items && items.length === 0 && <p className="muted small">No variables yet.</p>}
      {items && items.length > 0 && (
        <table className="list" aria-label="Variables">
          <tbody>
            {items.map((variable) => (
              <tr key={variable.name} data-testid="variable-row">
                <td className="narrow">
                  <code>{variable.name}</code>
                </td>
                <td>
                  <code className="muted">{preview(variable.value)}</code>
                </td>
                <td className="row-actions narrow">
                  <button onClick={() => setEditing(variable)}>Edit</button>
                  <button className="danger" onClick={() => remove(variable.name)} aria-label={`Delete ${variable.name}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <VariableDialog
          variable={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null)
            load()
          }}
        />
      )}
    </section>
  )
}

function VariableDialog({ variable, onClose, onSaved }: { variable: Variable | null; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(variable?.name ?? '')
  const [text, setText] = useState(variable ? JSON.stringify(variable.value, null, 2) : '')
  const [error, setError] = useState<string | null>(null)
  const parsed = parseJson(text)
  const validName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)
  const submit = async () => {
    // Text that is not JSON is kept as a string: typing hello means "hello".
    const value = 'value' in parsed ? (parsed.value ?? null) : text
    try {
      await api.setVariable(name, value)
      onSaved()
    } catch (failure) {
      setError(problemText(failure))
    }
  }
  return (
    <FormModal id="variable" title={variable ? `Edit ${variable.name}` : 'New variable'} submit="Save" disabled={!validName} className="param-form" onSubmit={submit} onClose={onClose}>
      <label>
        Name
        <input aria-label="Variable name" autoFocus={!variable} disabled={Boolean(variable)} value={name} placeholder="base_url" onChange={(event) => setName(event.target.value)} />
        {name && !validName && <span className="field-error">Letters, digits and _, not starting with a digit (at most 64).</span>}
      </label>
      <label>
        Value (JSON; other text is kept as a string)
        <textarea className="code" aria-label="Variable value" autoFocus={Boolean(variable)} rows={6} spellCheck={false} value={text} onChange={(event) => setText(event.target.value)} />
      </label>
      {error && (
        <pre className="banner error" role="alert">
          {error}
        </pre>
      )}
    </FormModal>
  )
}

function preview(value: unknown): string {
  const text = JSON.stringify(value)
  return text.length > 120 ? `${text.slice(0, 120)}…` : text
}
