// The workflow editor: toolbar, palette, canvas, node panel or history, and its dialogs.
// What it asks of the server is in ./commands, where things land on the canvas in
// ./useCanvasActions.
import { ReactFlowProvider, useReactFlow, type XYPosition } from '@xyflow/react'
import { useEffect, useRef, useState } from 'react'
import type { User } from '../api/types'
import { Room, useRoom } from '../collab/room'
import { ContextMenu, type MenuItem } from '../ui/ContextMenu'
import { navigate, setLeaveGuard } from '../ui/router'
import { useFollowRunWaits } from '../waits/runWaits'
import { Canvas } from './Canvas'
import { useCommands } from './commands'
import { MOD } from './format'
import { HistoryPanel } from './HistoryPanel'
import { LeaveDialog, wouldLoseChanges } from './LeaveDialog'
import { NodePanel } from './NodePanel'
import { Palette } from './Palette'
import { Notice, useValidation } from './Problems'
import { RestoreDialog } from './RestoreDialog'
import { RunBar } from './RunBar'
import { RunDialog } from './RunDialog'
import { ShortcutsHelp } from './ShortcutsHelp'
import { useEditor } from './store'
import { Toolbar } from './Toolbar'
import { useCanvasActions, type CanvasActions } from './useCanvasActions'
import { useClipboard, type ClipboardActions } from './useClipboard'
import { useLinkedExecution } from './useLinkedExecution'
import { useLiveDraft } from './useLiveDraft'
import { useRevealNode } from './useRevealNode'
import { useRunEvents } from './useRunEvents'
import { useShortcuts } from './useShortcuts'
import { WorkflowSettings } from './WorkflowSettings'

type Dialog = 'run' | 'help' | 'settings' | { restore: number } | { leave: () => void } | null

/** Joins a workflow's room as soon as the editor's code is in, before the editor is
 * drawn (useLiveDraft takes it). */
export function joinRoom(workflowId: string): Room {
  return new Room(workflowId)
}

export default function EditorPage({ workflowId, user }: { workflowId: string; user: User }) {
  return (
    <ReactFlowProvider>
      <Editor workflowId={workflowId} user={user} />
    </ReactFlowProvider>
  )
}

function Editor({ workflowId, user }: { workflowId: string; user: User }) {
  const [dialog, setDialog] = useState<Dialog>(null)
  const [history, setHistory] = useState(false)
  const [menu, setMenu] = useState<{ x: number; y: number; onItem: boolean } | null>(null)
  const paletteSearch = useRef<HTMLInputElement>(null)
  const pointer = useRef<XYPosition | null>(null)
  const flow = useReactFlow()
  const commands = useCommands.getState() // its actions, which never change
  const opening = useCommands((state) => (state.opening.workflowId === workflowId ? state.opening : null))
  const loaded = opening?.state === 'ready'
  const run = useEditor((state) => state.run)
  const latest = useCommands((state) => state.latest)
  const selectedId = useEditor(selectedNode)
  const readOnly = useEditor((state) => state.readOnly)
  useRunEvents(run.live ? run.executionId : null)
  useValidation(loaded)
  useLinkedExecution(loaded)
  useAskBeforeLeaving((leave) => setDialog({ leave }))
  useRevealNode(selectedId)
  useLiveDraft(workflowId, user)
  useFollowRunWaits(user)
  // A "+" on an output port was clicked: the palette's search is where the type is chosen.
  const addingAfter = useEditor((state) => state.addingAfter)
  useEffect(() => {
    if (addingAfter) paletteSearch.current?.focus()
  }, [addingAfter])

  const canvas = useCanvasActions(pointer)
  const clipboard = useClipboard(loaded && dialog === null && !readOnly, canvas.spot)
  const runWith = (input: unknown) => {
    setDialog(null)
    return commands.run(input)
  }
  const toggleHistory = () => {
    setHistory((open) => !open)
    useEditor.getState().select(null)
  }
  useShortcuts({
    save: commands.save,
    run: () => setDialog('run'),
    runFrom: commands.runFromSelection,
    help: () => setDialog((open) => (open === 'help' ? null : 'help')),
    search: () => paletteSearch.current?.focus(),
    fit: () => flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }),
    zoomIn: () => flow.zoomIn({ duration: 150 }),
    zoomOut: () => flow.zoomOut({ duration: 150 }),
    tidy: canvas.tidy,
    note: () => canvas.addNote(),
    history: toggleHistory,
    enabled: loaded && dialog === null,
    readOnly,
  })

  if (opening?.state === 'failed') {
    return (
      <div className="center-screen">
        <p>{opening.message}</p>
        <button onClick={() => navigate('/')}>Back to the workflows</button>
      </div>
    )
  }
  if (!loaded) return <Opening />

  // A run from a node reuses the execution shown, else the latest (see commands.runFrom).
  const canRunFrom = Boolean(run.executionId ?? latest) && run.status !== 'running' && run.status !== 'queued'
  return (
    <div className="editor">
      <Toolbar
        workflowId={workflowId}
        historyOpen={history}
        onToggleHistory={toggleHistory}
        onHelp={() => setDialog('help')}
        onRun={() => setDialog('run')}
        onSettings={() => setDialog('settings')}
        onAddNote={() => canvas.addNote()}
        onTidy={canvas.tidy}
      />
      <ActivationError />
      {run.status && <RunBar />}
      <div className="editor-body">
        {!readOnly && <Palette ref={paletteSearch} onAdd={(type) => canvas.addNode(type)} />}
        <Canvas onDropType={canvas.addNode} pointer={pointer} onMenu={(point, onItem) => setMenu({ ...point, onItem })} />
        {selectedId ? (
          <NodePanel key={selectedId} nodeId={selectedId} onClose={() => useEditor.getState().select(null)} onRunFrom={canRunFrom ? () => commands.runFrom([selectedId]) : undefined} />
        ) : (
          history && <HistoryPanel workflowId={workflowId} onOpenExecution={commands.openExecution} onRestore={(version) => setDialog({ restore: version })} onClose={() => setHistory(false)} />
        )}
      </div>
      {menu && <ContextMenu x={menu.x} y={menu.y} items={menuItems(menu, canRunFrom, clipboard, flow.screenToFlowPosition, canvas)} onClose={() => setMenu(null)} />}
      <Notice />
      {dialog === 'run' && <RunDialog workflowId={workflowId} onRun={(input) => runWith(input)} onClose={() => setDialog(null)} />}
      {dialog === 'help' && <ShortcutsHelp onClose={() => setDialog(null)} />}
      {dialog === 'settings' && <WorkflowSettings onClose={() => setDialog(null)} />}
      {dialog !== null && typeof dialog === 'object' && 'restore' in dialog && <RestoreDialog version={dialog.restore} onClose={() => setDialog(null)} />}
      {dialog !== null && typeof dialog === 'object' && 'leave' in dialog && <LeaveDialog onLeave={dialog.leave} onClose={() => setDialog(null)} />}
    </div>
  )
}

/** The context menu: on a node or note (`onItem`), else on the empty canvas at `at`. */
function menuItems(
  at: XYPosition & { onItem: boolean },
  canRunFrom: boolean,
  clipboard: ClipboardActions,
  toFlow: (point: XYPosition) => XYPosition,
  canvas: CanvasActions,
): MenuItem[] {
  const editor = useEditor.getState()
  if (at.onItem) {
    return [
      { label: 'Copy', action: clipboard.copy, hint: `${MOD}+C` },
      { label: 'Cut', action: clipboard.cut, hint: `${MOD}+X` },
      { label: 'Run from here', action: useCommands.getState().runFromSelection, disabled: !canRunFrom, hint: `${MOD}+⇧+Enter` },
      { label: 'Delete', action: editor.deleteSelected, hint: 'Del' },
    ]
  }
  return [
    { label: 'Paste', action: () => clipboard.paste(toFlow(at)), hint: `${MOD}+V` },
    { label: 'Add a note here', action: () => canvas.addNote(at), hint: 'N' },
    { label: 'Tidy up', action: canvas.tidy, hint: 'L' },
    { label: 'Select all', action: editor.selectAll, hint: `${MOD}+A` },
  ]
}

/** While the workflow opens: its live draft may take a moment when the server is away. */
function Opening() {
  const connection = useRoom((state) => state.connection)
  const closed = useRoom((state) => state.closed)
  const [slow, setSlow] = useState(false)
  useEffect(() => {
    const timer = setTimeout(() => setSlow(true), 2000)
    return () => clearTimeout(timer)
  }, [])
  if (closed) return <div className="center-screen">The live draft could not be opened: {closed}</div>
  return <div className="center-screen muted">{slow && connection === 'connecting' ? 'Connecting to the live draft…' : 'Loading…'}</div>
}

/** The one selected node, if exactly one is. */
function selectedNode(state: ReturnType<typeof useEditor.getState>): string | null {
  let found: string | null = null
  for (const node of state.nodes) {
    if (!node.selected) continue
    if (found) return null
    found = node.id
  }
  return found
}

function ActivationError() {
  const error = useCommands((state) => state.activationError)
  if (!error) return null
  return (
    <div className="banner error activation-error" role="alert" data-testid="activation-error">
      <span>{error}</span>
      <button className="icon" aria-label="Dismiss" onClick={useCommands.getState().dismissActivationError}>
        ×
      </button>
    </div>
  )
}

/** Leaving with changes that would be lost asks first: `ask` is handed the way out when the
 * editor is left inside the app (a link, the back button), and the browser asks when the
 * page itself goes (reload, closing the tab, another address). A change in the live draft
 * is kept by the server, saved as a version or not, so only one made offline and not
 * synced yet would be lost (./LeaveDialog). */
function useAskBeforeLeaving(ask: (leave: () => void) => void): void {
  const asker = useRef(ask)
  asker.current = ask
  useEffect(() => {
    const removeGuard = setLeaveGuard((leave) => {
      if (!wouldLoseChanges(useEditor.getState().dirty)) return false
      asker.current(leave)
      return true
    })
    const warn = (event: BeforeUnloadEvent) => {
      if (!wouldLoseChanges(useEditor.getState().dirty)) return
      event.preventDefault()
      event.returnValue = true // for browsers that predate preventDefault here
    }
    window.addEventListener('beforeunload', warn)
    return () => {
      removeGuard()
      window.removeEventListener('beforeunload', warn)
    }
  }, [])
}
