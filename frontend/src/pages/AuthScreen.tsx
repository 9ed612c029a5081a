import { useState, type FormEvent } from 'react'
import { api, ApiError } from '../api/client'
import type { User } from '../api/types'

interface Props {
  mode: 'setup' | 'login'
  onDone: (user: User) => void
  /** Setup from another machine: the server asks for the token `tav serve` printed. */
  tokenRequired?: boolean
  /** Where the server keeps that token. */
  tokenFile?: string | null
}

/** First run: create the owner account. Afterwards: sign in. */
export function AuthScreen({ mode, onDone, tokenRequired = false, tokenFile = null }: Props) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [repeat, setRepeat] = useState('')
  const [token, setToken] = useState('')
  const [askToken, setAskToken] = useState(tokenRequired)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const setup = mode === 'setup'

  async function submit(event: FormEvent) {
    event.preventDefault()
    if (setup && password !== repeat) return setError('The passwords differ.')
    if (setup && password.length < 8) return setError('The password needs at least 8 characters.')
    setBusy(true)
    setError(null)
    try {
      onDone(await (setup ? api.setup(email, password, askToken ? token : undefined) : api.login(email, password)))
    } catch (failure) {
      // The server knows best whether this browser counts as on its machine.
      if (failure instanceof ApiError && failure.code === 'setup_token_required') setAskToken(true)
      setError((failure as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="center-screen">
      <form className="auth-card" onSubmit={submit}>
        <div className="brand large">
          <span className="logo">T</span> TAV Engine
        </div>
        <h1>{setup ? 'Create the owner account' : 'Sign in'}</h1>
        {setup && <p className="muted">This installation has no account yet. The owner can do everything; keep the password safe.</p>}
        <label>
          Email
          <input type="email" autoFocus required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" />
        </label>
        <label>
          Password
          <input type="password" required value={password} onChange={(e) => setPassword(e.target.value)} autoComplete={setup ? 'new-password' : 'current-password'} />
        </label>
        {setup && (
          <label>
            Repeat the password
            <input type="password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} autoComplete="new-password" />
          </label>
        )}
        {setup && askToken && (
          <>
            <p className="muted" data-testid="setup-token-help">
              Creating the owner from here needs the one-time setup token (a browser on the server's own machine needs none).
              {' '}<code>tav serve</code> printed it in its terminal when it started
              {tokenFile ? <>; it is also in the file <code>{tokenFile}</code> on the server.</> : '.'}
            </p>
            <label>
              Setup token
              <input required value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" spellCheck={false} />
            </label>
          </>
        )}
        {error && <div className="error-text" role="alert">{error}</div>}
        <button className="primary" type="submit" disabled={busy}>
          {setup ? 'Create account' : 'Sign in'}
        </button>
      </form>
    </div>
  )
}
