import { useRef, useState } from 'react'
import { api } from '../api/client'
import { formatSize, withInputValue } from '../lib/media'
import { parseJson } from '../lib/schemaForm'
import { Modal } from '../ui/Modal'
import { MOD } from './format'

interface Props {
  workflowId: string
  onRun: (input: unknown) => void
  onClose: () => void
}

/** The trigger payload of a manual run, as JSON; the last one is remembered. */
export function RunDialog({ workflowId, onRun, onClose }: Props) {
  const key = `tav:run-input:${workflowId}`
  const [text, setText] = useState(() => localStorage.getItem(key) ?? '{}')
  const parsed = parseJson(text)
  const [fileKey, setFileKey] = useState('file')
  const [upload, setUpload] = useState<{ busy: boolean; error?: string; done?: string }>({ busy: false })
  const picker = useRef<HTMLInputElement>(null)
  const attach = async (file: File | undefined) => {
    if (!file) return
    setUpload({ busy: true })
    try {
      const stored = await api.uploadFile(file)
      const key = fileKey.trim() || 'file'
      setText((current) => withInputValue(current, key, stored.value))
      setUpload({ busy: false, done: `${stored.name} (${formatSize(stored.size)}) is in the input as “${key}”: {{ trigger.${key} }}` })
    } catch (error) {
      setUpload({ busy: false, error: `Not uploaded: ${(error as Error).message}` })
    } finally {
      if (picker.current) picker.current.value = ''
    }
  }
  const run = () => {
    if (!('value' in parsed)) return
    localStorage.setItem(key, text)
    onRun(parsed.value ?? null)
  }
  return (
    <Modal
      title="Run the workflow"
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={run} disabled={!('value' in parsed)}>
            Run ({MOD}+Enter)
          </button>
        </>
      }
    >
      <label>
        Input (JSON): available to the nodes as <code>{'{{ trigger }}'}</code>
        <textarea
          className="code"
          autoFocus
          rows={10}
          aria-label="Run input"
          spellCheck={false}
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault()
              event.stopPropagation()
              run()
            }
          }}
        />
      </label>
      {'error' in parsed && <div className="field-error">Not valid JSON: {parsed.error}</div>}
      <div className="attach-file">
        <label>
          Attach a file at key
          <input className="attach-key" aria-label="Input key for the file" value={fileKey} maxLength={100} onChange={(event) => setFileKey(event.target.value)} />
        </label>
        <input ref={picker} type="file" hidden aria-label="File to attach" onChange={(event) => attach(event.target.files?.[0])} />
        <button onClick={() => picker.current?.click()} disabled={upload.busy} title="Upload a file and put its value into the input">
          {upload.busy ? 'Uploading…' : 'Attach file…'}
        </button>
      </div>
      {upload.done && <div className="muted small" data-testid="attached">{upload.done}</div>}
      {upload.error && <div className="field-error" role="alert">{upload.error}</div>}
    </Modal>
  )
}
