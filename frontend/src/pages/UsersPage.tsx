// The team, for admins and the owner: every member with their role and state, the invite
// form, and the invites still pending. An invite's link is shown once, right after it is
// made, to copy and hand over: the server keeps only a hash of its token.
import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { team } from '../api/team'
import type { Invite, InviteCreated, Member, Role, User } from '../api/types'
import { ROLE_HELP, rolesToGive } from '../lib/roles'
import { useReloadingAction } from '../ui/action'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { ListTable } from '../ui/ListTable'
import { ConfirmModal, Modal } from '../ui/Modal'
import { relativeTime } from '../ui/time'

const INVITE_ROLES: Role[] = ['editor', 'viewer', 'admin']

export function UsersPage({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const [members, setMembers] = useState<Member[] | null>(null)
  const [invites, setInvites] = useState<Invite[]>([])
  const [created, setCreated] = useState<InviteCreated | null>(null)
  const [confirm, setConfirm] = useState<Member | null>(null)
  const [error, setError] = useState<string | null>(null)

  const load = useCallback(() => {
    team.members().then(setMembers, (failure: Error) => setError(failure.message))
    team.invites().then(setInvites, (failure: Error) => setError(failure.message))
  }, [])
  useEffect(load, [load])

  const act = useReloadingAction(load, setError)

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows">
        <div className="toolbar">
          <h1>Users</h1>
        </div>
        <p className="muted">
          Everyone who can sign in here, and what their role lets them do. Disabling a member signs them out at once and revokes their API keys.
        </p>
        <ErrorBanner error={error} />
        <InviteForm
          onCreated={(invite) => {
            setCreated(invite)
            load()
          }}
          onError={setError}
        />
        <ListTable
          items={members}
          label="Members"
          columns={['Email', 'Role', 'Status', 'Member since', '']}
          row={(member) => <MemberRow key={member.id} actor={user} member={member} onRole={(role) => act(() => team.changeRole(member.id, role))} onDisable={() => setConfirm(member)} onEnable={() => act(() => team.enable(member.id))} />}
        />
        {invites.length > 0 && (
          <>
            <h2 className="section-title">Pending invites</h2>
            <ListTable
              items={invites}
              label="Pending invites"
              columns={['Email', 'Role', 'Expires', '']}
              row={(invite) => (
                <tr key={invite.id} data-testid="invite-row">
                  <td>{invite.email}</td>
                  <td>{invite.role}</td>
                  <td className="muted" title={invite.expires_at}>
                    {invite.expired ? <span className="pill error">expired</span> : relativeTime(invite.expires_at)}
                  </td>
                  <td className="row-actions">
                    <button className="danger" onClick={() => act(() => team.revokeInvite(invite.id))} aria-label={`Revoke the invite of ${invite.email}`}>
                      Revoke
                    </button>
                  </td>
                </tr>
              )}
            />
          </>
        )}
      </main>
      {created && <InviteLink invite={created} onClose={() => setCreated(null)} />}
      {confirm && (
        <ConfirmModal
          title={`Disable ${confirm.email}?`}
          confirm="Disable"
          onClose={() => setConfirm(null)}
          onConfirm={() => {
            setConfirm(null)
            act(() => team.disable(confirm.id))
          }}
        >
          <p>They are signed out everywhere at once, their API keys are revoked, and they cannot sign in until they are enabled again.</p>
        </ConfirmModal>
      )}
    </div>
  )
}

interface RowProps {
  actor: User
  member: Member
  onRole: (role: Role) => void
  onDisable: () => void
  onEnable: () => void
}

function MemberRow({ actor, member, onRole, onDisable, onEnable }: RowProps) {
  const roles = rolesToGive(actor, member)
  const self = actor.id === member.id
  return (
    <tr data-testid="member-row" data-email={member.email}>
      <td>
        <span className="workflow-name">{member.email}</span>
        {self && <span className="muted small"> (you)</span>}
      </td>
      <td>
        {roles.length ? (
          <select
            aria-label={`Role of ${member.email}`}
            value={member.role}
            title={ROLE_HELP[member.role]}
            onChange={(event) => onRole(event.target.value as Role)}
          >
            {[member.role, ...roles.filter((role) => role !== member.role)].map((role) => (
              <option key={role} value={role}>
                {role === 'owner' && member.role !== 'owner' ? 'owner (hand the role over)' : role}
              </option>
            ))}
          </select>
        ) : (
          <span title={ROLE_HELP[member.role]}>{member.role}</span>
        )}
      </td>
      <td>{member.disabled ? <span className="pill error">disabled</span> : <span className="pill ok">active</span>}</td>
      <td className="muted" title={member.created_at}>
        {relativeTime(member.created_at)}
      </td>
      <td className="row-actions">
        {!self && member.role !== 'owner' &&
          (member.disabled ? (
            <button onClick={onEnable} aria-label={`Enable ${member.email}`}>
              Enable
            </button>
          ) : (
            <button className="danger" onClick={onDisable} aria-label={`Disable ${member.email}`}>
              Disable
            </button>
          ))}
      </td>
    </tr>
  )
}

function InviteForm({ onCreated, onError }: { onCreated: (invite: InviteCreated) => void; onError: (message: string) => void }) {
  const [email, setEmail] = useState('')
  const [role, setRole] = useState<Role>('editor')
  const [busy, setBusy] = useState(false)

  async function submit(event: FormEvent) {
    event.preventDefault()
    setBusy(true)
    try {
      onCreated(await team.invite(email.trim(), role))
      setEmail('')
    } catch (failure) {
      onError((failure as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="invite-form" onSubmit={submit} aria-label="Invite someone">
      <label>
        Invite by email
        <input type="email" required value={email} maxLength={254} onChange={(event) => setEmail(event.target.value)} placeholder="name@example.com" />
      </label>
      <label>
        as
        <select aria-label="Role of the invited person" value={role} onChange={(event) => setRole(event.target.value as Role)}>
          {INVITE_ROLES.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      </label>
      <button className="primary" type="submit" disabled={busy || !email.trim()}>
        Create invite link
      </button>
      <span className="muted small">{ROLE_HELP[role]}</span>
    </form>
  )
}

function InviteLink({ invite, onClose }: { invite: InviteCreated; onClose: () => void }) {
  const [copied, setCopied] = useState<string | null>(null)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(invite.url)
      setCopied('Copied')
    } catch {
      setCopied('Select it and copy')  // no clipboard: a page not served over HTTPS, say
    }
  }
  return (
    <Modal title="Invite link" onClose={onClose} footer={<button className="primary" onClick={onClose}>Done</button>}>
      <p>
        Send this link to <strong>{invite.email}</strong>. It works once, until {new Date(invite.expires_at).toLocaleString()}, and it is not shown again.
      </p>
      <div className="copy-field">
        <input readOnly aria-label="Invite link" value={invite.url} onFocus={(event) => event.target.select()} />
        <button onClick={copy}>{copied ?? 'Copy'}</button>
      </div>
    </Modal>
  )
}
