// The editor's commands: what its toolbar, shortcuts, menus and panels ask of the server —
// open the workflow, save, run (also from a node), stop, activate, open an execution,
// restore a version — as the actions of a small store beside the editor's own (./store),
// which holds the state they show: saving, stopping, the latest execution.
//
// A workflow opened with its room (../collab/room) is edited in its live draft: Save makes
// the draft a numbered version (POST .../draft/save), and a restored version reaches the
// draft through the room. Without one, the editor edits a copy of its own and saves it
// whole (PUT), as a script would.
//
// A command never rejects. Whoever starts one (a click, a key) has nobody to hand a failure
// to, so each command tells the person itself, the way the editor tells everything: a
// notice (useEditor's notify, shown by <Notice>), the problems marked on the nodes, or the
// activation banner. It resolves to whether it did what was asked.
import type * as Y from 'yjs'
import { create } from 'zustand'
import { api, ApiError } from '../api/client'
import { take } from '../api/prefetch'
import type { Problem } from '../api/types'
import { shareSaved } from '../collab/presence'
import { Unavailable, type Room } from '../collab/room'
import { activationMessage } from '../lib/activation'
import { useEditor } from './store'

/** Where opening a workflow is; `message` says why it failed. */
export interface Opening {
  workflowId: string | null
  state: 'loading' | 'ready' | 'failed'
  message?: string
}

export interface Commands {
  /** Where opening the workflow is. */
  opening: Opening
  saving: boolean
  activating: boolean
  stopping: boolean
  /** Why the workflow was not activated, shown until dismissed or tried again. */
  activationError: string | null
  /** The workflow's latest execution: a run from a node reuses it when none is shown. */
  latest: string | null

  /** Opens a workflow, in its live draft when `room` is given. */
  open(workflowId: string, room?: Room): Promise<boolean>
  /** Makes the draft the next numbered version. */
  save(): Promise<boolean>
  /** A version saved elsewhere (someone else, a script) is the one saved last. */
  refreshSaved(): Promise<void>
  run(input: unknown): Promise<boolean>
  runFrom(ids: string[]): Promise<boolean>
  runFromSelection(): Promise<boolean>
  stop(): Promise<boolean>
  setActive(on: boolean): Promise<boolean>
  dismissActivationError(): void
  openExecution(executionId: string): Promise<boolean>
  restore(version: number): Promise<boolean>
}

/** The execution whose results a run from a node reuses: the one shown, else the latest. */
export function reusableExecution(): string | null {
  return useEditor.getState().run.executionId ?? useCommands.getState().latest
}

/** Whether the execution shown is still going. */
export function isRunning(): boolean {
  const status = useEditor.getState().run.status
  return status === 'running' || status === 'queued'
}

export const useCommands = create<Commands>()((set, get) => {
  const editor = useEditor.getState
  const workflowId = () => editor().workflowId ?? ''
  let opened = 0
  let room: Room | null = null

  /** The work of a command, with `busy` set while it runs and any failure reported. */
  async function attempt(busy: 'saving' | 'activating' | 'stopping' | null, work: () => Promise<void>, report: (error: unknown) => void): Promise<boolean> {
    if (busy) set({ [busy]: true })
    try {
      await work()
      return true
    } catch (error) {
      report(error)
      return false
    } finally {
      if (busy) set({ [busy]: false })
    }
  }

  /** Unsaved changes are saved first: runs, activation and restores use the saved version. */
  const saved = async () => !editor().dirty || (await get().save())

  async function started(start: () => Promise<{ execution_id: string }>): Promise<boolean> {
    return attempt(null, async () => {
      const { execution_id } = await start()
      editor().startRun(execution_id)
      set({ latest: execution_id })
    }, reportSaveError)
  }

  return {
    opening: { workflowId: null, state: 'loading' },
    saving: false,
    activating: false,
    stopping: false,
    activationError: null,
    latest: null,

    async open(id, shared) {
      const current = ++opened // a workflow opened since then wins
      room = shared ?? null
      set({ opening: { workflowId: id, state: 'loading' }, activationError: null, latest: null })
      const loaded = await attempt(null, async () => {
        const [stored, catalog, draft] = await Promise.all([take(`workflow:${id}`, () => api.workflow(id)), take('nodes', api.nodeTypes), liveDraft(shared)])
        if (current !== opened) return
        if (!draft) room = null
        editor().load(stored, catalog, draft ?? undefined)
        set({ opening: { workflowId: id, state: 'ready' } })
      }, (error) => current === opened && set({ opening: { workflowId: id, state: 'failed', message: message(error) } }))
      if (loaded && current === opened) await findLatest(id)
      return loaded && current === opened
    },

    save: () =>
      attempt('saving', async () => {
        const { document, version } = editor()
        if (room && !(await room.flush())) throw new Error('Not saved: offline. Your changes are kept here and sync once the connection is back; save then.')
        const stored = room ? await api.saveDraft(workflowId()) : await api.saveWorkflow(workflowId(), document(), version)
        editor().markSaved(stored)
        if (room) shareSaved(stored.version)
        editor().notify('info', `Saved as version ${stored.version}`)
      }, reportSaveError),

    async refreshSaved() {
      const id = workflowId()
      try {
        const stored = await api.workflow(id)
        if (workflowId() === id && stored.version > editor().version) editor().markSaved(stored)
      } catch {
        // Only a label is late: the next change or save asks again.
      }
    },

    async run(input) {
      return (await saved()) && started(() => api.run(workflowId(), input))
    },

    async runFrom(ids) {
      const from = reusableExecution()
      if (!from || !ids.length || isRunning()) return false
      return (await saved()) && started(() => api.runFrom(workflowId(), { from_execution: from, start_at: ids }))
    },

    async runFromSelection() {
      const { nodes, notify } = editor()
      const ids = nodes.filter((node) => node.selected).map((node) => node.id)
      if (!ids.length) notify('info', 'Select the nodes to run from first')
      else if (!reusableExecution()) notify('info', 'Run the workflow once first: a run from a node reuses an earlier execution')
      else return get().runFrom(ids)
      return false
    },

    async stop() {
      const { executionId } = editor().run
      if (!executionId || get().stopping) return false
      // The execution's own events say when it has stopped; a refusal (it had already
      // ended, or runs elsewhere) is said at once.
      const refused = (error: unknown) => editor().notify('error', `Not stopped: ${message(error)}`)
      return attempt('stopping', async () => {
        await api.cancel(executionId)
      }, refused)
    },

    async setActive(on) {
      set({ activationError: null })
      if (on && !(await saved())) return false
      return attempt('activating', async () => {
        const stored = on ? await api.activate(workflowId()) : await api.deactivate(workflowId())
        editor().setActive(stored.active)
        editor().notify('info', stored.active ? 'Active: its triggers are armed' : 'Inactive: its triggers are disarmed')
      }, (error) => (on ? set({ activationError: activationMessage(error) }) : editor().notify('error', `Not deactivated: ${message(error)}`)))
    },

    dismissActivationError() {
      set({ activationError: null })
    },

    openExecution: (executionId) =>
      attempt(null, async () => editor().showExecution(await api.execution(executionId)), (error) => editor().notify('error', `The execution could not be opened: ${message(error)}`)),

    restore: (version) =>
      attempt(null, async () => {
        if (room) await get().refreshSaved() // saved by someone else meanwhile: not a conflict here
        const state = editor()
        const stored = await api.restoreVersion(workflowId(), version, state.version)
        // In the draft, the restored document arrives through the room, as one change.
        if (room) {
          state.markSaved(stored)
          shareSaved(stored.version)
        } else state.load(stored, state.catalog)
        state.notify('info', `Restored version ${version} as version ${stored.version}`)
      }, reportSaveError),
  }

  /** The room's document once it has the draft; null when the server has no room to
   * offer (the editor then edits a copy of its own); the room's failure otherwise. */
  async function liveDraft(shared: Room | undefined): Promise<Y.Doc | null> {
    if (!shared) return null
    try {
      await shared.ready
      return shared.doc
    } catch (error) {
      if (error instanceof Unavailable) return null
      throw error
    }
  }

  /** The workflow's latest execution, for a run from a node before any run here. */
  async function findLatest(id: string): Promise<void> {
    await attempt(null, async () => {
      const page = await api.executions(id, 1)
      if (editor().workflowId === id) set((state) => ({ latest: state.latest ?? page.items[0]?.execution_id ?? null }))
    }, (error) => editor().notify('error', `The workflow's executions could not be read: ${message(error)}`))
  }
})

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** A save, run or restore the server refused: the problems it found are marked on the
 * nodes; a conflict says that someone else saved. */
function reportSaveError(error: unknown): void {
  const { notify, setProblems } = useEditor.getState()
  if (error instanceof ApiError && error.code === 'workflow_invalid' && Array.isArray(error.details)) {
    setProblems(error.details as Problem[])
    notify('error', `Not saved: ${error.details.length} problem(s) to fix first (marked on the nodes)`)
  } else if (error instanceof ApiError && error.code === 'conflict' && (error.details as { field?: string } | null)?.field === 'mcp.name') {
    // Another workflow offers that tool name: shown in the workflow's settings too.
    setProblems([{ location: 'mcp.name', field: 'mcp.name', message: error.message }])
    notify('error', `Not saved: ${error.message}`)
  } else if (error instanceof ApiError && error.code === 'conflict') {
    notify('error', 'Not saved: someone saved this workflow since you opened it. Reload to see their version.')
  } else notify('error', message(error))
}
