// Asks before the editor is left with changes that would be lost. In a live draft those
// are only the changes made offline and not synced yet: the server keeps the draft, saved
// as a version or not, so leaving it loses nothing and nobody is asked. A copy edited
// without a room (a server without live co-editing) loses whatever is not saved.
import { useRoom } from '../collab/room'
import { Modal } from '../ui/Modal'
import { useCommands } from './commands'

/** Whether leaving now would lose changes. */
export function wouldLoseChanges(dirty: boolean): boolean {
  const room = useRoom.getState()
  return room.workflowId ? room.unsynced : dirty
}

export function LeaveDialog({ onLeave, onClose }: { onLeave: () => void; onClose: () => void }) {
  const inRoom = useRoom((state) => state.workflowId !== null)
  const leave = () => {
    onClose()
    onLeave()
  }
  return inRoom ? <Unsynced onLeave={leave} onClose={onClose} /> : <Unsaved onLeave={leave} onClose={onClose} />
}

function Unsynced({ onLeave, onClose }: { onLeave: () => void; onClose: () => void }) {
  return (
    <Modal
      title="Leave before your changes sync?"
      onClose={onClose}
      footer={
        <>
          <button className="danger" onClick={onLeave}>
            Leave and lose them
          </button>
          <button className="primary" autoFocus onClick={onClose}>
            Stay
          </button>
        </>
      }
    >
      <p>You are offline, and your last changes have not reached the server yet. Stay, and they sync once the connection is back; leave now, and they are lost.</p>
    </Modal>
  )
}

function Unsaved({ onLeave, onClose }: { onLeave: () => void; onClose: () => void }) {
  const saving = useCommands((state) => state.saving)
  const saveAndLeave = async () => {
    const saved = await useCommands.getState().save()
    // Not saved (the notice says why, the problems are marked): the editor stays open.
    if (saved) onLeave()
    else onClose()
  }
  return (
    <Modal
      title="Leave without saving?"
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Stay</button>
          <button className="danger" onClick={onLeave}>
            Leave without saving
          </button>
          <button className="primary" autoFocus disabled={saving} onClick={saveAndLeave}>
            {saving ? 'Saving…' : 'Save and leave'}
          </button>
        </>
      }
    >
      <p>This workflow has changes that are not saved yet. Leaving now loses them.</p>
    </Modal>
  )
}
