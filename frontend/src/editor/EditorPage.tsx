// The workflow editor: palette, canvas, node panel, history, save and run.
import { ReactFlowProvider, useReactFlow, type XYPosition } from '@xyflow/react'
import { useCallback, useEffect, useRef, useState } from 'react'
import { api, ApiError } from '../api/client'
import { take } from '../api/prefetch'
import type { Problem } from '../api/types'
import { activationMessage } from '../lib/activation'
import { ActiveToggle } from '../ui/ActiveToggle'
import { ContextMenu, type MenuItem } from '../ui/ContextMenu'
import { Modal } from '../ui/Modal'
import { navigate } from '../ui/router'
import { Canvas } from './Canvas'
import { MOD } from './format'
import { HistoryPanel } from './HistoryPanel'
import { NodePanel } from './NodePanel'
import { Palette } from './Palette'
import { RunBar } from './RunBar'
import { RunDialog } from './RunDialog'
import { ShortcutsHelp } from './ShortcutsHelp'
import { Notice, ProblemsIndicator, useValidation } from './Problems'
import { useEditor } from './store'
import { useClipboard } from './useClipboard'
import { useRunEvents } from './useRunEvents'
import { useShortcuts } from './useShortcuts'

export default function EditorPage({ workflowId }: { workflowId: string }) {
  return (
    <ReactFlowProvider>
      <Editor workflowId={workflowId} />
    </ReactFlowProvider>
  )
}

function Editor({ workflowId }: { workflowId: string }) {
  const [loaded, setLoaded] = useState(false)
  const [failure, setFailure] = useState<string | null>(null)
  const [dialog, setDialog] = useState<Dialog>(null)
  const [history, setHistory] = useState(false)
  const [menu, setMenu] = useState<{ x: number; y: number; onItem: boolean } | null>(null)
  const [saving, setSaving] = useState(false)
  const [latest, setLatest] = useState<string | null>(null)
  const [activating, setActivating] = useState(false)
  const [activationError, setActivationError] = useState<string | null>(null)
  const paletteSearch = useRef<HTMLInputElement>(null)
  const pointer = useRef<XYPosition | null>(null)
  const flow = useReactFlow()

  const name = useEditor((state) => state.base.name)
  const dirty = useEditor((state) => state.dirty)
  const version = useEditor((state) => state.version)
  const active = useEditor((state) => state.active)
  const canUndo = useEditor((state) => state.past.length > 0)
  const canRedo = useEditor((state) => state.future.length > 0)
  const selectedId = useEditor((state) => {
    let found: string | null = null
    for (const node of state.nodes) {
      if (!node.selected) continue
      if (found) return null
      found = node.id
    }
    return found
  })
  const run = useEditor((state) => state.run)
  useRunEvents(run.live ? run.executionId : null)
  useValidation(loaded)

  useEffect(() => {
    Promise.all([take(`workflow:${workflowId}`, () => api.workflow(workflowId)), take('nodes', api.nodeTypes)]).then(
      ([stored, catalog]) => {
        useEditor.getState().load(stored, catalog)
        setLoaded(true)
      },
      (error: Error) => setFailure(error.message),
    )
    api.executions(workflowId, 1).then((page) => setLatest(page.items[0]?.execution_id ?? null), () => {})
  }, [workflowId])

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (useEditor.getState().dirty) event.preventDefault()
    }
    window.addEventListener('beforeunload', warn)
    return () => window.removeEventListener('beforeunload', warn)
  }, [])

  const save = useCallback(async (): Promise<boolean> => {
    const state = useEditor.getState()
    setSaving(true)
    try {
      const stored = await api.saveWorkflow(workflowId, state.document(), state.version)
      useEditor.getState().markSaved(stored)
      state.notify('info', `Saved as version ${stored.version}`)
      return true
    } catch (error) {
      reportSaveError(error)
      return false
    } finally {
      setSaving(false)
    }
  }, [workflowId])

  const startRun = useCallback(
    async (input: unknown) => {
      setDialog(null)
      if (useEditor.getState().dirty && !(await save())) return
      try {
        const { execution_id } = await api.run(workflowId, input)
        useEditor.getState().startRun(execution_id)
        setLatest(execution_id)
      } catch (error) {
        reportSaveError(error)
      }
    },
    [workflowId, save],
  )

  // Activation arms the saved version's triggers: unsaved changes are saved first.
  const setActive = useCallback(
    async (on: boolean) => {
      setActivationError(null)
      if (on && useEditor.getState().dirty && !(await save())) return
      setActivating(true)
      try {
        const stored = on ? await api.activate(workflowId) : await api.deactivate(workflowId)
        useEditor.getState().setActive(stored.active)
        useEditor.getState().notify('info', stored.active ? 'Active: its triggers are armed' : 'Inactive: its triggers are disarmed')
      } catch (error) {
        if (on) setActivationError(activationMessage(error))
        else useEditor.getState().notify('error', (error as Error).message)
      } finally {
        setActivating(false)
      }
    },
    [workflowId, save],
  )

  // Run from node: the execution shown, else the latest, lends the results of the rest.
  const reusable = run.executionId ?? latest
  const running = run.status === 'running' || run.status === 'queued'
  const runFrom = useCallback(
    async (ids: string[]) => {
      const from = useEditor.getState().run.executionId ?? latest
      if (!from || !ids.length) return
      if (useEditor.getState().dirty && !(await save())) return
      try {
        const { execution_id } = await api.runFrom(workflowId, { from_execution: from, start_at: ids })
        useEditor.getState().startRun(execution_id)
        setLatest(execution_id)
      } catch (error) {
        reportSaveError(error)
      }
    },
    [workflowId, save, latest],
  )
  const runFromSelection = useCallback(() => {
    const ids = useEditor.getState().nodes.filter((node) => node.selected).map((node) => node.id)
    if (!ids.length) return useEditor.getState().notify('info', 'Select the nodes to run from first')
    if (!reusable) return useEditor.getState().notify('info', 'Run the workflow once first: a run from a node reuses an earlier execution')
    if (running) return
    void runFrom(ids)
  }, [runFrom, reusable, running])

  const openExecution = useCallback(async (id: string) => {
    try {
      const execution = await api.execution(id)
      useEditor.getState().showExecution(execution)
    } catch (error) {
      useEditor.getState().notify('error', (error as Error).message)
    }
  }, [])

  const restore = useCallback(
    async (old: number) => {
      setDialog(null)
      const state = useEditor.getState()
      try {
        const stored = await api.restoreVersion(workflowId, old, state.version)
        state.load(stored, state.catalog)
        state.notify('info', `Restored version ${old} as version ${stored.version}`)
      } catch (error) {
        reportSaveError(error)
      }
    },
    [workflowId],
  )

  /** The middle of the view (where a node is put when nothing says where), in the flow. */
  const middle = useCallback(() => {
    const pane = document.querySelector('.canvas')?.getBoundingClientRect()
    return flow.screenToFlowPosition(pane ? { x: pane.x + pane.width / 2 - 90, y: pane.y + pane.height / 2 - 25 } : { x: 300, y: 200 })
  }, [flow])
  /** Where pasted things and notes go: at the pointer when it is over the canvas. */
  const spot = useCallback(() => (pointer.current ? flow.screenToFlowPosition(pointer.current) : middle()), [flow, middle])
  const clipboard = useClipboard(loaded && dialog === null, spot)

  const addNode = useCallback(
    (type: string, point?: { x: number; y: number }) => {
      const state = useEditor.getState()
      const selected = state.nodes.filter((node) => node.selected)
      let position
      if (point) position = flow.screenToFlowPosition(point)
      else if (selected.length === 1) position = { x: selected[0].position.x + 260, y: selected[0].position.y }
      else position = middle()
      position = freeSpot(state.nodes, snap(position))
      state.addNode(type, position, !point && selected.length === 1 ? selected[0].id : undefined)
    },
    [flow, middle],
  )
  const addNote = useCallback((at?: XYPosition) => useEditor.getState().addNote(snap(at ? flow.screenToFlowPosition(at) : spot())), [spot, flow])
  const tidy = useCallback(() => {
    useEditor.getState().layout((id) => {
      const node = flow.getInternalNode(id)
      return node?.measured.width && node.measured.height ? { width: node.measured.width, height: node.measured.height } : undefined
    })
    requestAnimationFrame(() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }))
  }, [flow])
  const toggleHistory = useCallback(() => {
    setHistory((open) => !open)
    useEditor.getState().select(null)
  }, [])

  useShortcuts({
    save: () => void save(),
    run: () => setDialog('run'),
    runFrom: runFromSelection,
    help: () => setDialog((open) => (open === 'help' ? null : 'help')),
    search: () => paletteSearch.current?.focus(),
    fit: () => flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }),
    zoomIn: () => flow.zoomIn({ duration: 150 }),
    zoomOut: () => flow.zoomOut({ duration: 150 }),
    tidy,
    note: () => addNote(),
    history: toggleHistory,
    enabled: loaded && dialog === null,
  })

  if (failure) {
    return (
      <div className="center-screen">
        <p>{failure}</p>
        <button onClick={() => navigate('/')}>Back to the workflows</button>
      </div>
    )
  }
  if (!loaded) return <div className="center-screen muted">Loading…</div>

  const menuItems = (onItem: boolean, at: XYPosition): MenuItem[] =>
    onItem
      ? [
          { label: 'Copy', action: () => void clipboard.copy(), hint: `${MOD}+C` },
          { label: 'Cut', action: () => void clipboard.cut(), hint: `${MOD}+X` },
          { label: 'Run from here', action: runFromSelection, disabled: !reusable || running, hint: `${MOD}+⇧+Enter` },
          { label: 'Delete', action: () => useEditor.getState().deleteSelected(), hint: 'Del' },
        ]
      : [
          { label: 'Paste', action: () => void clipboard.paste(flow.screenToFlowPosition(at)), hint: `${MOD}+V` },
          { label: 'Add a note here', action: () => addNote(at), hint: 'N' },
          { label: 'Tidy up', action: tidy, hint: 'L' },
          { label: 'Select all', action: () => useEditor.getState().selectAll(), hint: `${MOD}+A` },
        ]

  return (
    <div className="editor">
      <header className="topbar">
        <button className="ghost" onClick={() => navigate('/')} title="All workflows">
          ← Workflows
        </button>
        <input className="title-input workflow-title" aria-label="Workflow name" value={name} maxLength={200} onChange={(event) => useEditor.getState().rename(event.target.value)} />
        <span className="muted small" data-testid="version">v{version}</span>
        {dirty ? (
          <span className="unsaved" data-testid="unsaved" title="Unsaved changes">
            ● unsaved
          </span>
        ) : (
          <span className="muted small" data-testid="saved">saved</span>
        )}
        <ProblemsIndicator />
        <div className="spacer" />
        <ActiveToggle active={active} busy={activating} label="Active" onChange={(on) => void setActive(on)} />
        <button className="icon" disabled={!canUndo} onClick={() => useEditor.getState().undo()} title={`Undo (${MOD}+Z)`} aria-label="Undo">
          ↶
        </button>
        <button className="icon" disabled={!canRedo} onClick={() => useEditor.getState().redo()} title={`Redo (${MOD}+Shift+Z)`} aria-label="Redo">
          ↷
        </button>
        <button onClick={() => addNote()} title="Add a sticky note (N)">
          + Note
        </button>
        <button onClick={tidy} title="Lay the workflow out from left to right (L)">
          Tidy up
        </button>
        <button className={history ? 'active' : ''} aria-pressed={history} onClick={toggleHistory} title="Executions and versions (H)">
          History
        </button>
        <button className="icon" onClick={() => setDialog('help')} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
          ?
        </button>
        <a className="button" href={api.exportUrl(workflowId, 'json')} download title="Download the saved version as JSON">
          Export
        </a>
        <button onClick={() => void save()} disabled={saving || !dirty} title={`Save (${MOD}+S)`}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        {running && run.live ? (
          <button className="danger" onClick={() => run.executionId && api.cancel(run.executionId).catch(() => {})}>
            Stop
          </button>
        ) : (
          <button className="primary" onClick={() => setDialog('run')} title={`Run (${MOD}+Enter)`}>
            ▶ Run
          </button>
        )}
      </header>
      {activationError && (
        <div className="banner error activation-error" role="alert" data-testid="activation-error">
          <span>{activationError}</span>
          <button className="icon" aria-label="Dismiss" onClick={() => setActivationError(null)}>
            ×
          </button>
        </div>
      )}
      {run.status && <RunBar />}
      <div className="editor-body">
        <Palette ref={paletteSearch} onAdd={(type) => addNode(type)} />
        <Canvas onDropType={addNode} pointer={pointer} onMenu={(point, onItem) => setMenu({ ...point, onItem })} />
        {selectedId ? (
          <NodePanel key={selectedId} nodeId={selectedId} onClose={() => useEditor.getState().select(null)} onRunFrom={reusable && !running ? () => void runFrom([selectedId]) : undefined} />
        ) : (
          history && <HistoryPanel workflowId={workflowId} onOpenExecution={(id) => void openExecution(id)} onRestore={(old) => setDialog({ restore: old })} onClose={() => setHistory(false)} />
        )}
      </div>
      {menu && <ContextMenu x={menu.x} y={menu.y} items={menuItems(menu.onItem, menu)} onClose={() => setMenu(null)} />}
      <Notice />
      {dialog === 'run' && <RunDialog workflowId={workflowId} onRun={startRun} onClose={() => setDialog(null)} />}
      {dialog === 'help' && <ShortcutsHelp onClose={() => setDialog(null)} />}
      {dialog !== null && typeof dialog === 'object' && (
        <Modal
          title={`Restore version ${dialog.restore}?`}
          onClose={() => setDialog(null)}
          footer={
            <>
              <button onClick={() => setDialog(null)}>Cancel</button>
              <button className="primary" autoFocus onClick={() => void restore(dialog.restore)}>
                Restore
              </button>
            </>
          }
        >
          <p>
            Its document is saved again as version {version + 1}; version {version} and the others stay in the history.
            {dirty && ' Your unsaved changes will be lost.'}
          </p>
        </Modal>
      )}
    </div>
  )
}

type Dialog = 'run' | 'help' | { restore: number } | null

function snap(point: XYPosition): XYPosition {
  return { x: Math.round(point.x / 10) * 10, y: Math.round(point.y / 10) * 10 }
}

/** The point, moved down until a new node there covers no other node. */
function freeSpot(nodes: { position: XYPosition }[], point: XYPosition): XYPosition {
  const x = point.x
  let y = point.y
  while (nodes.some((node) => Math.abs(node.position.x - x) < 210 && Math.abs(node.position.y - y) < 80)) y += 90
  return { x, y }
}

function reportSaveError(error: unknown): void {
  const { notify, setProblems } = useEditor.getState()
  if (error instanceof ApiError && error.code === 'workflow_invalid' && Array.isArray(error.details)) {
    setProblems(error.details as Problem[])
    notify('error', `Not saved: ${(error.details as Problem[]).length} problem(s) to fix first (marked on the nodes)`)
  } else if (error instanceof ApiError && error.code === 'conflict') {
    notify('error', 'Not saved: someone saved this workflow since you opened it. Reload to see their version.')
  } else notify('error', (error as Error).message)
}
