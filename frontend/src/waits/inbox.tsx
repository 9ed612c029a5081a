// What waits for the signed-in member: the waiting executions with a wait they may decide
// now and have not approved yet, as the server finds them
// (GET /api/v1/executions?decidable=me), read by the inbox page and, every little while
// while the tab is shown, for the count in the navigation; and, for the inbox page only,
// the newest waiting executions, for what waits for others.
import { create } from 'zustand'
import { api } from '../api/client'
import type { ExecutionSummary, User } from '../api/types'
import { inbox, type WaitEntry } from '../lib/waits'
import { usePollWhileShown } from '../ui/polling'

/** How many executions are read, newest first (at most the API's page). */
export const INBOX_LIMIT = 200
const POLL_MS = 15_000
const everyPoll = () => POLL_MS

interface Inbox {
  /** The waiting executions with a wait the member may decide now, newest first. */
  items: ExecutionSummary[] | null
  /** How many executions wait for the member, including those past the first INBOX_LIMIT. */
  total: number
  /** The newest waiting executions, whoever may decide them (read by `loadOthers`). */
  waiting: ExecutionSummary[] | null
  /** Every waiting execution, including those past the first INBOX_LIMIT. */
  waitingTotal: number
  error: string | null
  load(): Promise<void>
  loadOthers(): Promise<void>
}

export const useInbox = create<Inbox>()((set) => ({
  items: null,
  total: 0,
  waiting: null,
  waitingTotal: 0,
  error: null,
  async load() {
    try {
      const page = await api.findExecutions({ status: 'waiting', decidable: 'me', limit: INBOX_LIMIT })
      set({ items: page.items, total: page.total, error: null })
    } catch (error) {
      set({ error: (error as Error).message })
    }
  },
  async loadOthers() {
    try {
      const page = await api.findExecutions({ status: 'waiting', limit: INBOX_LIMIT })
      set({ waiting: page.items, waitingTotal: page.total, error: null })
    } catch (error) {
      set({ error: (error as Error).message })
    }
  },
}))

/** The waits `user` may decide now, and (once `loadOthers` has read them) the rest; null
 * until read. */
export function useInboxEntries(user: Pick<User, 'id'>): { mine: WaitEntry[]; others: WaitEntry[] } | null {
  const items = useInbox((state) => state.items)
  const waiting = useInbox((state) => state.waiting)
  return items ? { mine: inbox(items, user).mine, others: inbox(waiting ?? [], user).others } : null
}

/** Reads the inbox now and every little while, while the tab is shown. */
export function useInboxPolling(): void {
  usePollWhileShown(useInbox.getState().load, everyPoll)
}

/** The count in the navigation: "3", or "200+" when more executions wait for the member
 * than were read. */
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
