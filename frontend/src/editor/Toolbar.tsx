// The editor's top bar: the workflow's name, version and state, who else is here, and its
// commands.
import { api } from '../api/client'
import { useRoom } from '../collab/room'
import { ActiveToggle } from '../ui/ActiveToggle'
import { navigate } from '../ui/router'
import { useCommands } from './commands'
import { MOD } from './format'
import { DraftState, PeerAvatars } from './Presence'
import { ProblemsIndicator } from './Problems'
import { useEditor } from './store'

interface Props {
  workflowId: string
  historyOpen: boolean
  onToggleHistory: () => void
  onHelp: () => void
  onRun: () => void
  onSettings: () => void
  onAddNote: () => void
  onTidy: () => void
}

export function Toolbar({ workflowId, historyOpen, onToggleHistory, onHelp, onRun, onSettings, onAddNote, onTidy }: Props) {
  const name = useEditor((state) => state.base.name)
  const version = useEditor((state) => state.version)
  const canUndo = useEditor((state) => state.canUndo && !state.readOnly)
  const canRedo = useEditor((state) => state.canRedo && !state.readOnly)
  const readOnly = useEditor((state) => state.readOnly)
  const { undo, redo, rename } = useEditor.getState()
  return (
    <header className="topbar">
      <button className="ghost" onClick={() => navigate('/')} title="All workflows">
        ← Workflows
      </button>
      <input className="title-input workflow-title" aria-label="Workflow name" value={name} maxLength={200} readOnly={readOnly} onChange={(event) => rename(event.target.value)} />
      <span className="muted small" data-testid="version">v{version}</span>
      <SavedState />
      <DraftState />
      <ProblemsIndicator />
      <div className="spacer" />
      <PeerAvatars />
      <Activation />
      <button className="icon" disabled={!canUndo} onClick={undo} title={`Undo (${MOD}+Z)`} aria-label="Undo">
        ↶
      </button>
      <button className="icon" disabled={!canRedo} onClick={redo} title={`Redo (${MOD}+Shift+Z)`} aria-label="Redo">
        ↷
      </button>
      <button onClick={onAddNote} disabled={readOnly} title="Add a sticky note (N)">
        + Note
      </button>
      <button onClick={onTidy} disabled={readOnly} title="Lay the workflow out from left to right (L)">
        Tidy up
      </button>
      <button onClick={onSettings} aria-label="Workflow settings" title="Description, MCP tool and input schema">
        Settings
      </button>
      <button className={historyOpen ? 'active' : ''} aria-pressed={historyOpen} onClick={onToggleHistory} title="Executions and versions (H)">
        History
      </button>
      <button className="icon" onClick={onHelp} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
        ?
      </button>
      <a className="button" href={api.exportUrl(workflowId, 'json')} download title="Download the saved version as JSON">
        Export
      </a>
      <SaveButton />
      <RunButton onRun={onRun} />
    </header>
  )
}

function SavedState() {
  const dirty = useEditor((state) => state.dirty)
  if (!dirty) return <span className="muted small" data-testid="saved" title="The draft is the version saved last">saved</span>
  return (
    <span className="unsaved" data-testid="unsaved" title="The draft differs from the version saved last: Save makes it the next version">
      ● unsaved
    </span>
  )
}

function Activation() {
  const active = useEditor((state) => state.active)
  const activating = useCommands((state) => state.activating)
  const readOnly = useEditor((state) => state.readOnly)
  return <ActiveToggle active={active} busy={activating || readOnly} label="Active" onChange={useCommands.getState().setActive} />
}

function SaveButton() {
  const dirty = useEditor((state) => state.dirty)
  const readOnly = useEditor((state) => state.readOnly)
  const offline = useRoom((state) => state.workflowId !== null && state.connection !== 'online')
  const saving = useCommands((state) => state.saving)
  const why = readOnly ? 'View only' : offline ? 'Offline: save once the connection is back' : `Save the draft as the next version (${MOD}+S)`
  return (
    <button onClick={useCommands.getState().save} disabled={saving || !dirty || readOnly || offline} title={why}>
      {saving ? 'Saving…' : 'Save'}
    </button>
  )
}

/** Run, or Stop while the execution shown is followed live, or Cancel while it waits. */
function RunButton({ onRun }: { onRun: () => void }) {
  const status = useEditor((state) => state.run.status)
  const live = useEditor((state) => state.run.live)
  const stopping = useCommands((state) => state.stopping)
  const readOnly = useEditor((state) => state.readOnly)
  if (live && (status === 'running' || status === 'queued')) {
    return (
      <button className="danger" onClick={useCommands.getState().stop} disabled={stopping} title="Stop the execution: running nodes are cancelled">
        {stopping ? 'Stopping…' : 'Stop'}
      </button>
    )
  }
  const run = (
    <button className="primary" onClick={onRun} disabled={readOnly} title={readOnly ? 'View only' : `Run (${MOD}+Enter)`}>
      ▶ Run
    </button>
  )
  if (!(live && status === 'waiting')) return run
  return (
    <>
      <button className="danger" onClick={useCommands.getState().stop} disabled={stopping} title="Cancel the waiting execution: its waiting nodes end cancelled and their links stop working">
        {stopping ? 'Cancelling…' : 'Cancel'}
      </button>
      {run}
    </>
  )
}
