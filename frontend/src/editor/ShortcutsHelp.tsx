import { Modal } from '../ui/Modal'
import { MOD } from './format'

export const SHORTCUTS: [string, string][] = [
  [`${MOD}+S`, 'Save'],
  [`${MOD}+Enter`, 'Run (asks for the input)'],
  [`${MOD}+Shift+Enter`, 'Run from the selected nodes, reusing the rest of the execution shown'],
  [`${MOD}+Z`, 'Undo'],
  [`${MOD}+Shift+Z  /  ${MOD}+Y`, 'Redo'],
  [`${MOD}+A`, 'Select every node'],
  [`${MOD}+C  /  ${MOD}+X  /  ${MOD}+V`, 'Copy, cut, paste nodes (also into another workflow)'],
  ['Shift+drag', 'Select an area'],
  [`Shift+click  /  ${MOD}+click`, 'Add to the selection'],
  ['Delete  /  Backspace', 'Delete the selection'],
  ['/', 'Search the node palette (Enter adds the first match)'],
  ['F', 'Fit the workflow in view'],
  ['L', 'Tidy up: lay the workflow out from left to right'],
  ['N', 'Add a sticky note'],
  ['H', 'Show or hide the history (executions, versions)'],
  ['+  /  −', 'Zoom in / out'],
  ['Esc', 'Close the panel, clear the selection'],
  ['?', 'This help'],
]

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose}>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={keys}>
              <td>
                <kbd>{keys}</kbd>
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">Drag from an output port (right) to an input port (left) to connect nodes. Click a node type in the palette to add it after the selected node.</p>
    </Modal>
  )
}
