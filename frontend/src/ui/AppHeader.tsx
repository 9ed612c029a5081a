// The top bar of the pages outside the editor: where to go (the inbox with the count of
// what waits for the member), and who is signed in with which role. The team's page is an
// admin's.
import type { User } from '../api/types'
import { managesUsers } from '../lib/roles'
import { InboxCount, useInboxPolling } from '../waits/inbox'
import { navigate, usePath } from './router'

const PAGES = [
  ['/', 'Workflows'],
  ['/executions', 'Executions'],
  ['/inbox', 'Inbox'],
  ['/credentials', 'Credentials'],
  ['/settings', 'Settings'],
  ['/api-keys', 'API keys'],
] as const
const ADMIN_PAGES = [['/users', 'Users']] as const

export function AppHeader({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const path = usePath()
  const pages = managesUsers(user.role) ? [...PAGES, ...ADMIN_PAGES] : PAGES
  useInboxPolling()
  return (
    <header className="topbar">
      <div className="brand">
        <span className="logo">T</span> TAV Engine
      </div>
      <nav className="tabs">
        {pages.map(([href, label]) => (
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
            {href === '/inbox' && <InboxCount user={user} />}
          </a>
        ))}
      </nav>
      <div className="spacer" />
      <span className="muted small" data-testid="signed-in-as" title={`Signed in as ${user.email}, with the role ${user.role}`}>
        {user.email} <span className="pill">{user.role}</span>
      </span>
      <button onClick={onSignOut}>Sign out</button>
    </header>
  )
}
