import { useState, type FormEvent } from 'react'
import { api } from '../api/client'
import type { User } from '../api/types'

interface Props {
  mode: 'setup' | 'login'
  onDone: (user: User) => void
}

/** First run: create the owner account. Afterwards: sign in. */
export function AuthScreen({ mode, onDone }: Props) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [repeat, setRepeat] = useState('')
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
      onDone(await (setup ? api.setup(email, password) : api.login(email, password)))
    } catch (failure) {
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
        {error && <div className="error-text" role="alert">{error}</div>}
        <button className="primary" type="submit" disabled={busy}>
          {setup ? 'Create account' : 'Sign in'}
        </button>
      </form>
    </div>
  )
}
