// Where an invite link leads (/invite#token=...): says what the invite offers, asks for a
// password, and signs the new member in. The token stays in the page: the browser never
// sends what follows `#`, and the page posts it in a request body only.
import { useEffect, useState, type FormEvent } from 'react'
import { ApiError } from '../api/client'
import { inviteToken, team } from '../api/team'
import type { InviteInfo, User } from '../api/types'
import { ROLE_HELP } from '../lib/roles'
import { replace } from '../ui/router'

interface Props {
  /** Who this browser is signed in as now, if anyone: accepting signs it in as the new member. */
  current: User | null
  onDone: (user: User) => void
}

export function InvitePage({ current, onDone }: Props) {
  const [token] = useState(() => inviteToken(location.hash))
  const [offer, setOffer] = useState<InviteInfo | null>(null)
  const [password, setPassword] = useState('')
  const [repeat, setRepeat] = useState('')
  const [error, setError] = useState<string | null>(token ? null : 'This invite link is incomplete: ask for the whole link again.')
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    if (token) team.lookInvite(token).then(setOffer, (failure: Error) => setError(failure.message))
  }, [token])

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (!token) return
    if (password !== repeat) return setError('The passwords differ.')
    if (password.length < 8) return setError('The password needs at least 8 characters.')
    setBusy(true)
    setError(null)
    try {
      const user = await team.acceptInvite(token, password)
      replace('/') // the link is used up: not kept in the history
      onDone(user)
    } catch (failure) {
      setError(failure instanceof ApiError || failure instanceof Error ? failure.message : String(failure))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="center-screen">
      <form className="auth-card" onSubmit={submit} aria-label="Accept the invite">
        <div className="brand large">
          <span className="logo">T</span> TAV Engine
        </div>
        <h1>Join the team</h1>
        {offer && (
          <p data-testid="invite-offer">
            You are invited as <strong>{offer.email}</strong>, with the role <strong>{offer.role}</strong>: {ROLE_HELP[offer.role]}
          </p>
        )}
        {offer && current && (
          <p className="muted small">
            This browser is signed in as {current.email}; joining signs it in as {offer.email} instead.
          </p>
        )}
        {offer && (
          <>
            <label>
              Choose a password
              <input type="password" required autoFocus value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
            </label>
            <label>
              Repeat the password
              <input type="password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} autoComplete="new-password" />
            </label>
            <input type="email" hidden readOnly value={offer.email} autoComplete="username" />
          </>
        )}
        {error && (
          <div className="error-text" role="alert">
            {error}
          </div>
        )}
        {offer && (
          <button className="primary" type="submit" disabled={busy}>
            Join
          </button>
        )}
        {!offer && error && <a href="/">Go to the sign-in page</a>}
      </form>
    </div>
  )
}
