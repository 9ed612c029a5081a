// Asks before the editor is left with unsaved changes: save them, leave them, or stay.
import { Modal } from '../ui/Modal'
import { useCommands } from './commands'

export function LeaveDialog({ onLeave, onClose }: { onLeave: () => void; onClose: () => void }) {
  const saving = useCommands((state) => state.saving)
  const saveAndLeave = async () => {
    const saved = await useCommands.getState().save()
    onClose()
    // Not saved (the notice says why, the problems are marked): the editor stays open.
    if (saved) onLeave()
  }
  const leave = () => {
    onClose()
    onLeave()
  }
  return (
    <Modal
      title="Leave without saving?"
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Stay</button>
          <button className="danger" onClick={leave}>
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
