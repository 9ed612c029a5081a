// Asks before a saved version is restored (saved again as the newest version).
import { Modal } from '../ui/Modal'
import { useCommands } from './commands'
import { useEditor } from './store'

export function RestoreDialog({ version, onClose }: { version: number; onClose: () => void }) {
  const current = useEditor((state) => state.version)
  const dirty = useEditor((state) => state.dirty)
  const restore = () => {
    onClose()
    return useCommands.getState().restore(version)
  }
  return (
    <Modal
      title={`Restore version ${version}?`}
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="primary" autoFocus onClick={restore}>
            Restore
          </button>
        </>
      }
    >
      <p>
        Its document is saved again as version {current + 1}; version {current} and the others stay in the history.
        {dirty && ' The changes made to the draft since the last save are replaced by it, for everyone editing it.'}
      </p>
    </Modal>
  )
}
