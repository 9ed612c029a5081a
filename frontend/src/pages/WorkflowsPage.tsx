import { useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../api/client'
import type { LastExecution, User, WorkflowDocument, WorkflowSummary } from '../api/types'
import { activationMessage } from '../lib/activation'
import { executionLink, STATUS_LABELS } from '../lib/executions'
import { canEdit } from '../lib/roles'
import { ActiveToggle } from '../ui/ActiveToggle'
import { AppHeader } from '../ui/AppHeader'
import { ErrorBanner } from '../ui/ErrorBanner'
import { ListTable } from '../ui/ListTable'
import { ConfirmModal, FormModal, Modal } from '../ui/Modal'
import { navigate } from '../ui/router'
import { relativeTime } from '../ui/time'

interface Props {
  user: User
  onSignOut: () => void
}

const NEW_WORKFLOW: WorkflowDocument = {
  schema: 1,
  name: 'My workflow',
  nodes: [{ id: 'start', type: 'trigger.manual' }],
  edges: [],
  ui: { positions: { start: [0, 0] } },
}

type Dialog =
  | { kind: 'import' }
  | { kind: 'rename'; workflow: WorkflowSummary }
  | { kind: 'delete'; workflow: WorkflowSummary }
  | null

export function WorkflowsPage({ user, onSignOut }: Props) {
  const editing = canEdit(user.role) // a viewer only looks
  const [search, setSearch] = useState('')
  const [items, setItems] = useState<WorkflowSummary[] | null>(null)
  const [total, setTotal] = useState(0)
  const [dialog, setDialog] = useState<Dialog>(null)
  const [error, setError] = useState<string | null>(null)
  const [toggling, setToggling] = useState<string | null>(null)
  const searchBox = useRef<HTMLInputElement>(null)

  const load = useCallback(() => {
    api.workflows(search).then(
      (page) => {
        setItems(page.items)
        setTotal(page.total)
      },
      (failure: Error) => setError(failure.message),
    )
  }, [search])
  useEffect(() => {
    const timer = setTimeout(load, 150)
    return () => clearTimeout(timer)
  }, [load])
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === '/' && !(event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement)) {
        event.preventDefault()
        searchBox.current?.focus()
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])

  async function act(action: () => Promise<unknown>) {
    setError(null)
    try {
      await action()
      load()
    } catch (failure) {
      setError((failure as Error).message)
    }
  }

  const setActive = async (workflow: WorkflowSummary, on: boolean) => {
    setError(null)
    setToggling(workflow.id)
    try {
      const stored = on ? await api.activate(workflow.id) : await api.deactivate(workflow.id)
      setItems((rows) => rows?.map((row) => (row.id === workflow.id ? { ...row, active: stored.active } : row)) ?? rows)
    } catch (failure) {
      setError(on ? `“${workflow.name}”: ${activationMessage(failure)}` : (failure as Error).message)
    } finally {
      setToggling(null)
    }
  }

  const create = () => act(async () => navigate(`/workflows/${(await api.createWorkflow(NEW_WORKFLOW)).id}`))
  const duplicate = (workflow: WorkflowSummary) =>
    act(async () => {
      const { document } = await api.workflow(workflow.id)
      await api.createWorkflow({ ...document, name: `${document.name} (copy)`.slice(0, 200) })
    })

  return (
    <div className="page">
      <AppHeader user={user} onSignOut={onSignOut} />
      <main className="workflows">
        <div className="toolbar">
          <h1>Workflows</h1>
          <input
            ref={searchBox}
            className="search"
            placeholder="Search by name  ( / )"
            aria-label="Search workflows"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
          <div className="spacer" />
          {editing && (
            <>
              <button onClick={() => setDialog({ kind: 'import' })}>Import…</button>
              <button className="primary" onClick={create}>
                New workflow
              </button>
            </>
          )}
        </div>
        <ErrorBanner error={error} />
        <ListTable
          items={items}
          columns={['Name', 'Active', 'Last run', 'Version', 'Updated', '']}
          empty={search ? `No workflow matches “${search}”.` : 'No workflows yet: create one, or import a file.'}
          row={(workflow) => (
            <tr key={workflow.id} data-testid="workflow-row">
              <td>
                <a
                  className="workflow-name"
                  href={`/workflows/${workflow.id}`}
                  onClick={(event) => {
                    event.preventDefault()
                    navigate(`/workflows/${workflow.id}`)
                  }}
                >
                  {workflow.name}
                </a>
                {workflow.description && <div className="muted small">{workflow.description}</div>}
              </td>
              <td>
                <ActiveToggle active={workflow.active} busy={!editing || toggling === workflow.id} label={`Active: ${workflow.name}`} onChange={(on) => setActive(workflow, on)} />
              </td>
              <td>
                <LastRun workflowId={workflow.id} last={workflow.last_execution} />
              </td>
              <td className="muted">v{workflow.version}</td>
              <td className="muted" title={workflow.updated_at}>{relativeTime(workflow.updated_at)}</td>
              <td className="row-actions">
                {editing && <button onClick={() => setDialog({ kind: 'rename', workflow })}>Rename</button>}
                {editing && <button onClick={() => duplicate(workflow)}>Duplicate</button>}
                <a className="button" href={api.exportUrl(workflow.id, 'json')} download>
                  Export JSON
                </a>
                <a className="button" href={api.exportUrl(workflow.id, 'yaml')} download>
                  YAML
                </a>
                {editing && (
                  <button className="danger" onClick={() => setDialog({ kind: 'delete', workflow })}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          )}
        />
        {items && total > items.length && <div className="muted small">Showing {items.length} of {total}; search to narrow.</div>}
      </main>
      {dialog?.kind === 'import' && (
        <ImportDialog
          onClose={() => setDialog(null)}
          onImported={(id) => {
            setDialog(null)
            navigate(`/workflows/${id}`)
          }}
        />
      )}
      {dialog?.kind === 'rename' && (
        <RenameDialog
          workflow={dialog.workflow}
          onClose={() => setDialog(null)}
          onRename={(name) =>
            act(async () => {
              const stored = await api.workflow(dialog.workflow.id)
              await api.saveWorkflow(stored.id, { ...stored.document, name }, stored.version)
              setDialog(null)
            })
          }
        />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmModal
          title="Delete the workflow?"
          confirm="Delete"
          onClose={() => setDialog(null)}
          onConfirm={() =>
            act(async () => {
              await api.deleteWorkflow(dialog.workflow.id)
              setDialog(null)
            })
          }
        >
          <p>
            “{dialog.workflow.name}” and all its versions will be deleted. Its executions stay.
          </p>
        </ConfirmModal>
      )}
    </div>
  )
}

/** How the workflow last ran, a link to that execution in the editor; its other
 * executions are on the Executions page. */
function LastRun({ workflowId, last }: { workflowId: string; last: LastExecution | null }) {
  if (!last) return <span className="muted small">never run</span>
  const link = executionLink({ execution_id: last.execution_id, workflow_id: workflowId })!
  return (
    <span className="last-run" data-testid="last-run" data-status={last.status}>
      <a
        href={link}
        title={`Show this execution (${last.started_at})`}
        onClick={(event) => {
          event.preventDefault()
          navigate(link)
        }}
      >
        <span className={`dot status-${last.status}`} /> {STATUS_LABELS[last.status]}
      </a>{' '}
      <span className="muted small">{relativeTime(last.started_at)}</span>{' '}
      <a
        className="muted small"
        href={`/executions?workflow=${workflowId}`}
        title="Every execution of this workflow"
        onClick={(event) => {
          event.preventDefault()
          navigate(`/executions?workflow=${workflowId}`)
        }}
      >
        all runs
      </a>
    </span>
  )
}

function RenameDialog({ workflow, onClose, onRename }: { workflow: WorkflowSummary; onClose: () => void; onRename: (name: string) => void }) {
  const [name, setName] = useState(workflow.name)
  return (
    <FormModal id="rename" title="Rename the workflow" submit="Rename" disabled={!name.trim()} onSubmit={() => onRename(name.trim())} onClose={onClose}>
      <label>
        Name
        <input autoFocus value={name} maxLength={200} onChange={(event) => setName(event.target.value)} onFocus={(e) => e.target.select()} />
      </label>
    </FormModal>
  )
}

function ImportDialog({ onClose, onImported }: { onClose: () => void; onImported: (id: string) => void }) {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  async function submit() {
    setError(null)
    try {
      onImported((await api.importWorkflow(text)).id)
    } catch (failure) {
      const details = (failure as { details?: unknown }).details
      const problems = Array.isArray(details) ? details.map((p: { location?: string; message: string }) => `${p.location ?? ''}: ${p.message}`) : []
      setError([(failure as Error).message, ...problems].join('\n'))
    }
  }
  return (
    <Modal
      title="Import a workflow"
      wide
      onClose={onClose}
      footer={
        <>
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={submit} disabled={!text.trim()}>
            Import
          </button>
        </>
      }
    >
      <p className="muted">Choose a JSON or YAML file exported from TAV Engine, or paste its text.</p>
      <input
        type="file"
        aria-label="Workflow file"
        accept=".json,.yaml,.yml,application/json,application/yaml"
        onChange={(event) => {
          const file = event.target.files?.[0]
          file?.text().then(setText, (failure: Error) => setError(`The file could not be read: ${failure.message}`))
        }}
      />
      <textarea className="code" rows={14} aria-label="Workflow document" placeholder='{"schema": 1, "name": "…", "nodes": [], "edges": []}' value={text} onChange={(event) => setText(event.target.value)} />
      {error && <pre className="error-text" role="alert">{error}</pre>}
    </Modal>
  )
}
