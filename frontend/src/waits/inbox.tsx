// What waits for the signed-in member: the open waits of the waiting executions
// (GET /api/v1/executions?status=waiting), those they may decide by the API's word
// (`may_decide`) and have not approved yet. Read by the inbox page and, every little while
// while the tab is shown, for the count in the navigation.
import { useEffect } from 'react'
import { create } from 'zustand'
import { api } from '../api/client'
import type { ExecutionSummary, User } from '../api/types'
import { inbox, type WaitEntry } from '../lib/waits'

/** How many waiting executions are read, newest first (at most the API's page). */
export const INBOX_LIMIT = 200
const POLL_MS = 15_000

interface Inbox {
  items: ExecutionSummary[] | null
  /** Every waiting execution, including those past the first INBOX_LIMIT. */
  total: number
  error: string | null
  load(): Promise<void>
}

export const useInbox = create<Inbox>()((set) => ({
  items: null,
  total: 0,
  error: null,
  async load() {
    try {
      const page = await api.findExecutions({ status: 'waiting', limit: INBOX_LIMIT })
      set({ items: page.items, total: page.total, error: null })
    } catch (error) {
      set({ error: (error as Error).message })
    }
  },
}))

/** The waits `user` may decide now, and the rest; null until read. */
export function useInboxEntries(user: Pick<User, 'id'>): { mine: WaitEntry[]; others: WaitEntry[] } | null {
  const items = useInbox((state) => state.items)
  return items ? inbox(items, user) : null
}

/** Reads the inbox now and every little while, while the tab is shown. */
export function useInboxPolling(): void {
  useEffect(() => {
    const { load } = useInbox.getState()
    let timer: ReturnType<typeof setTimeout> | undefined
    const turn = async () => {
      if (document.visibilityState === 'visible') await load()
      timer = setTimeout(turn, POLL_MS)
    }
    const onVisible = () => {
      if (document.visibilityState !== 'visible') return
      clearTimeout(timer)
      turn()
    }
    turn()
    document.addEventListener('visibilitychange', onVisible)
    return () => {
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisible)
    }
  }, [])
}

/** The count in the navigation: "3", or "200+" when more executions wait than were read. */
export function InboxCount({ user }: { user: Pick<User, 'id'> }) {
  const entries = useInboxEntries(user)
  const more = useInbox((state) => (state.items ? state.total > state.items.length : false))
  if (!entries || !entries.mine.length) return null
  return (
    <span className="badge count" data-testid="inbox-count" title="Waits for you to decide">
      {entries.mine.length}
      {more && '+'}
    </span>
  )
}
