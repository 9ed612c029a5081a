// The top bar of the pages outside the editor: where to go, and who is signed in.
import type { User } from '../api/types'
import { navigate, usePath } from './router'

const PAGES = [
  ['/', 'Workflows'],
  ['/executions', 'Executions'],
  ['/credentials', 'Credentials'],
  ['/settings', 'Settings'],
] as const

export function AppHeader({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const path = usePath()
  return (
    <header className="topbar">
      <div className="brand">
        <span className="logo">T</span> TAV Engine
      </div>
      <nav className="tabs">
        {PAGES.map(([href, label]) => (
          <a
            key={href}
            href={href}
            className={path === href ? 'active' : ''}
            aria-current={path === href ? 'page' : undefined}
            onClick={(event) => {
              event.preventDefault()
              navigate(href)
            }}
          >
            {label}
          </a>
        ))}
      </nav>
      <div className="spacer" />
      <span className="muted small">{user.email}</span>
      <button onClick={onSignOut}>Sign out</button>
    </header>
  )
}
