import { useCallback, useEffect, useState, type ComponentType } from 'react'
import { api, setUnauthorizedHandler } from './api/client'
import { prefetch, take } from './api/prefetch'
import type { AuthStatus, User } from './api/types'
import { managesUsers } from './lib/roles'
import { ApiKeysPage } from './pages/ApiKeysPage'
import { AuthScreen } from './pages/AuthScreen'
import { CredentialsPage } from './pages/CredentialsPage'
import { ExecutionsPage } from './pages/ExecutionsPage'
import { InboxPage } from './pages/InboxPage'
import { InvitePage } from './pages/InvitePage'
import { SettingsPage } from './pages/SettingsPage'
import { UsersPage } from './pages/UsersPage'
import { WorkflowsPage } from './pages/WorkflowsPage'
import { navigate, usePath } from './ui/router'

// The canvas (React Flow) loads only when a workflow is opened. Not with React.lazy: a
// Suspense boundary that has shown its fallback holds the content back for 300 ms more
// (React's fallback throttling), which is a third of the time a large workflow takes to
// open.
type EditorPageType = ComponentType<{ workflowId: string; user: User }>
let editorPage: EditorPageType | null = null
const loadEditor = () => import('./editor/EditorPage').then((module) => (editorPage = module.default))
const WORKFLOW_PATH = /^\/workflows\/([0-9a-f]{32})\/?$/

// A workflow opened by its link: its code, the workflow and the node types load while the
// session is checked, instead of one after the other.
const opened = location.pathname.match(WORKFLOW_PATH)
if (opened) {
  prefetch('editor', loadEditor)
  prefetch(`workflow:${opened[1]}`, () => api.workflow(opened[1]))
  prefetch('nodes', api.nodeTypes)
  prefetch(`room:${opened[1]}`, () => import('./editor/EditorPage').then(({ joinRoom }) => joinRoom(opened[1])))
}

export function App() {
  const [status, setStatus] = useState<AuthStatus | null>(null)
  const [failure, setFailure] = useState<string | null>(null)
  const path = usePath()

  const refresh = useCallback(() => {
    api.status().then(setStatus, (error: Error) => setFailure(error.message))
  }, [])
  useEffect(() => {
    refresh()
    // Ask again rather than assume: a request made before the session was checked (a
    // prefetch) may be refused on a server that still needs its owner account.
    setUnauthorizedHandler(refresh)
  }, [refresh])
  // A member disabled (or given another role) meanwhile learns it when they come back to
  // the page, not only at their next request.
  useEffect(() => {
    const onVisible = () => document.visibilityState === 'visible' && refresh()
    document.addEventListener('visibilitychange', onVisible)
    return () => document.removeEventListener('visibilitychange', onVisible)
  }, [refresh])

  const [signOutError, setSignOutError] = useState<string | null>(null)
  const signedIn = (user: User) => setStatus({ setup_required: false, user })
  const signOut = async () => {
    setSignOutError(null)
    try {
      await api.logout()
    } catch (error) {
      setSignOutError(`Not signed out: ${(error as Error).message}`)
      return
    }
    setStatus({ setup_required: false, user: null })
    navigate('/')
  }

  if (failure) return <div className="center-screen">The server cannot be reached: {failure}</div>
  if (!status) return <div className="center-screen muted">Loading…</div>
  if (status.setup_required) {
    return (
      <AuthScreen
        mode="setup"
        onDone={signedIn}
        tokenRequired={status.setup_token_required ?? false}
        tokenFile={status.setup_token_file ?? null}
      />
    )
  }
  if (path === '/invite') return <InvitePage current={status.user ?? null} onDone={signedIn} />
  if (!status.user) return <AuthScreen mode="login" onDone={signedIn} />

  const match = path.match(WORKFLOW_PATH)
  if (match) {
    return (
      <LoadedEditor key={match[1]} workflowId={match[1]} user={status.user} />
    )
  }
  const page =
    path === '/executions' ? (
      <ExecutionsPage user={status.user} onSignOut={signOut} />
    ) : path === '/inbox' ? (
      <InboxPage user={status.user} onSignOut={signOut} />
    ) : path === '/credentials' ? (
      <CredentialsPage user={status.user} onSignOut={signOut} />
    ) : path === '/settings' ? (
      <SettingsPage user={status.user} onSignOut={signOut} />
    ) : path === '/api-keys' ? (
      <ApiKeysPage user={status.user} onSignOut={signOut} />
    ) : path === '/users' && managesUsers(status.user.role) ? (
      <UsersPage user={status.user} onSignOut={signOut} />
    ) : (
      <WorkflowsPage user={status.user} onSignOut={signOut} />
    )
  return (
    <>
      {signOutError && (
        <div className="banner error" role="alert">
          {signOutError}
        </div>
      )}
      {page}
    </>
  )
}

function LoadedEditor({ workflowId, user }: { workflowId: string; user: User }) {
  const [Editor, setEditor] = useState<EditorPageType | null>(() => editorPage)
  const [failure, setFailure] = useState<string | null>(null)
  useEffect(() => {
    if (!Editor) take('editor', loadEditor).then((page) => setEditor(() => page), (error: Error) => setFailure(error.message))
  }, [Editor])
  if (failure) return <div className="center-screen">The editor could not be loaded: {failure}</div>
  if (!Editor) return <div className="center-screen muted">Loading the editor…</div>
  return <Editor workflowId={workflowId} user={user} />
}
