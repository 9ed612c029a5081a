// Credentials: API keys, passwords and provider settings for nodes. Values are
// write-only: the list and the edit form say which fields are set, never what they hold,
// and no input is ever filled with a stored value.
import { useCallback, useEffect, useMemo, useState } from 'react'
import { api, ApiError } from '../api/client'
import type { CredentialKind, CredentialSummary, User } from '../api/types'
import { forgetCredentials } from '../editor/inputs'
import { credentialData, credentialFields, fieldProblems, type CredentialField, type Draft } from '../lib/credentialForm'
import { canEdit } from '../lib/roles'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { LockIcon } from '../ui/icons'
import { ListTable } from '../ui/ListTable'
import { ConfirmModal, FormModal } from '../ui/Modal'
import { relativeTime } from '../ui/time'

type Dialog = { kind: 'edit'; credential: CredentialSummary | null } | { kind: 'delete'; credential: CredentialSummary } | null

export function CredentialsPage({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const editing = canEdit(user.role) // a viewer sees names and kinds only
  const [items, setItems] = useState<CredentialSummary[] | null>(null)
  const [kinds, setKinds] = useState<CredentialKind[]>([])
  const [dialog, setDialog] = useState<Dialog>(null)
  const [error, setError] = useState<string | null>(null)

  const load = useCallback(() => {
    api.credentials().then(setItems, (failure: Error) => setError(failure.message))
    forgetCredentials()
  }, [])
  useEffect(() => {
    load()
    api.credentialKinds().then(setKinds, (failure: Error) => setError(failure.message))
  }, [load])

  const remove = async (credential: CredentialSummary) => {
    setError(null)
    try {
      await api.deleteCredential(credential.id)
      setDialog(null)
      load()
    } catch (failure) {
      setError((failure as Error).message)
    }
  }
  const secretFields = (kind: string) => new Set(kinds.find((k) => k.kind === kind)?.secret_fields ?? [])

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows">
        <div className="toolbar">
          <h1>Credentials</h1>
          <div className="spacer" />
          {editing && (
            <button className="primary" onClick={() => setDialog({ kind: 'edit', credential: null })} disabled={!kinds.length}>
              New credential
            </button>
          )}
        </div>
        <p className="muted">
          Keys, passwords and provider settings that nodes use by reference. They are stored encrypted, and once saved no value is ever shown again: only
          which fields are set.
        </p>
        <ErrorBanner error={error} />
        <ListTable
          items={items}
          columns={['Name', 'Kind', 'Fields set', 'Updated', '']}
          empty="No credentials yet."
          row={(credential) => (
            <tr key={credential.id} data-testid="credential-row">
              <td>
                <span className="workflow-name">{credential.name}</span>
                <div className="muted small">
                  <code>{credential.id}</code>
                </div>
              </td>
              <td>
                <code>{credential.kind}</code>
              </td>
              <td>
                <span className="chips">
                  {credential.fields.map((field) => (
                    <span key={field} className="pill" title={secretFields(credential.kind).has(field) ? 'Secret: set, never shown' : 'Set'}>
                      {secretFields(credential.kind).has(field) && <LockIcon size={10} />}
                      {field}
                    </span>
                  ))}
                </span>
              </td>
              <td className="muted" title={credential.updated_at}>
                {relativeTime(credential.updated_at)}
              </td>
              <td className="row-actions">
                {editing && <button onClick={() => setDialog({ kind: 'edit', credential })}>Edit</button>}
                {editing && (
                  <button className="danger" onClick={() => setDialog({ kind: 'delete', credential })}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          )}
        />
      </main>
      {dialog?.kind === 'edit' && (
        <CredentialDialog
          credential={dialog.credential}
          kinds={kinds}
          onClose={() => setDialog(null)}
          onSaved={() => {
            setDialog(null)
            load()
          }}
        />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmModal title="Delete the credential?" confirm="Delete" onClose={() => setDialog(null)} onConfirm={() => remove(dialog.credential)}>
          <p>“{dialog.credential.name}” will be deleted. Nodes that use it will fail until they are given another one.</p>
        </ConfirmModal>
      )}
    </div>
  )
}

interface DialogProps {
  credential: CredentialSummary | null
  kinds: CredentialKind[]
  onClose: () => void
  onSaved: () => void
}

function CredentialDialog({ credential, kinds, onClose, onSaved }: DialogProps) {
  const [name, setName] = useState(credential?.name ?? '')
  const [kindName, setKindName] = useState(credential?.kind ?? kinds[0]?.kind ?? '')
  const [draft, setDraft] = useState<Draft>({})
  const [problems, setProblems] = useState<Record<string, string>>({})
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const kind = kinds.find((k) => k.kind === kindName)
  const fields = useMemo(() => (kind ? credentialFields(kind) : []), [kind])
  const stored = credential?.fields ?? null

  async function submit() {
    setError(null)
    const built = credentialData(fields, draft, stored)
    if ('problems' in built) return setProblems(built.problems)
    setProblems({})
    setBusy(true)
    try {
      if (credential) {
        const change: { name?: string; data?: Record<string, unknown> } = {}
        if (name.trim() !== credential.name) change.name = name.trim()
        if (Object.keys(built.data).length) change.data = built.data
        await api.updateCredential(credential.id, change)
      } else await api.createCredential(name.trim(), kindName, built.data)
      onSaved()
    } catch (failure) {
      if (failure instanceof ApiError) {
        setProblems(fieldProblems(failure.details))
        setError(failure.message)
      } else setError((failure as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <FormModal
      id="credential"
      title={credential ? `Edit “${credential.name}”` : 'New credential'}
      submit={credential ? 'Save' : 'Create'}
      disabled={busy || !name.trim() || !kind}
      wide
      className="param-form"
      autoComplete="off"
      onSubmit={submit}
      onClose={onClose}
    >
      <label>
        Name
        <input autoFocus value={name} maxLength={200} onChange={(event) => setName(event.target.value)} />
      </label>
      <label>
        Kind
        <select
          value={kindName}
          disabled={Boolean(credential)}
          onChange={(event) => {
            setKindName(event.target.value)
            setDraft({})
            setProblems({})
          }}
        >
          {kinds.map((k) => (
            <option key={k.kind} value={k.kind}>
              {k.kind} — {k.description}
            </option>
          ))}
        </select>
      </label>
      {credential && <p className="muted small">Stored values are never shown. Leave a field empty to keep what it holds; type to replace it.</p>}
      {fields.map((field) => (
        <CredentialInput
          key={`${kindName}.${field.key}`}
          field={field}
          isSet={stored ? stored.includes(field.key) : null}
          draft={draft}
          problem={problems[field.key]}
          onChange={(value) => setDraft((current) => ({ ...current, [field.key]: value }))}
        />
      ))}
      <ErrorBanner error={error} />
    </FormModal>
  )
}

interface InputProps {
  field: CredentialField
  /** Whether the stored credential has the field (null while creating). */
  isSet: boolean | null
  draft: Draft
  problem?: string
  onChange: (value: Draft[string]) => void
}

function CredentialInput({ field, isSet, draft, problem, onChange }: InputProps) {
  const entry = draft[field.key]
  const cleared = Boolean(entry && 'clear' in entry)
  const text = entry && 'text' in entry ? entry.text : ''
  const status =
    isSet === null ? null : cleared ? (
      <span className="field-unset">will be cleared</span>
    ) : isSet ? (
      <span className="field-set" data-testid={`set-${field.key}`}>
        ✓ set
      </span>
    ) : (
      <span className="field-unset">not set</span>
    )
  const placeholder = isSet ? (field.secret ? 'stored: type to replace' : 'set: type to change') : field.default !== undefined && field.default !== null ? `default: ${String(field.default)}` : undefined
  let input
  if (field.kind === 'boolean') {
    const value = entry && 'flag' in entry ? String(entry.flag) : ''
    input = (
      <select aria-label={field.title} value={value} onChange={(event) => onChange(event.target.value === '' ? undefined : { flag: event.target.value === 'true' })}>
        <option value="">{isSet ? 'keep as it is' : `default (${String(field.default ?? false)})`}</option>
        <option value="true">yes</option>
        <option value="false">no</option>
      </select>
    )
  } else if (field.kind === 'json') {
    input = <textarea className="code" aria-label={field.title} rows={3} spellCheck={false} value={text} disabled={cleared} placeholder={placeholder ?? 'JSON'} onChange={(event) => onChange({ text: event.target.value })} />
  } else {
    input = (
      <input
        aria-label={field.title}
        type={field.secret ? 'password' : 'text'}
        autoComplete={field.secret ? 'new-password' : 'off'}
        inputMode={field.kind === 'integer' || field.kind === 'number' ? 'numeric' : undefined}
        value={text}
        disabled={cleared}
        placeholder={placeholder}
        onChange={(event) => onChange(event.target.value === '' ? undefined : { text: event.target.value })}
      />
    )
  }
  return (
    <div className={`field${problem ? ' has-error' : ''}`} data-field={field.key}>
      <div className="field-label">
        {field.secret && <span title="Secret: write-only">
            <LockIcon />
          </span>}
        {field.title}
        {field.required && <span className="required">*</span>}
        {status}
        <code className="field-key">{field.key}</code>
      </div>
      {input}
      {isSet && !field.required && (
        <label className="check small">
          <input type="checkbox" checked={cleared} onChange={(event) => onChange(event.target.checked ? { clear: true } : undefined)} />
          Clear the stored value
        </label>
      )}
      {field.description && <div className="field-help">{field.description}</div>}
      {problem && <div className="field-error">{problem}</div>}
    </div>
  )
}
