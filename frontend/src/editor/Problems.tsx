// What the editor tells about the workflow: its problems (checked by the server after
// each change) and short notices (saved, copied, refused).
import { useEffect, useState } from 'react'
import { api } from '../api/client'
import { useEditor } from './store'

/** Checks the document on the server shortly after each change. */
export function useValidation(enabled: boolean): void {
  const revision = useEditor((state) => state.revision)
  useEffect(() => {
    if (!enabled) return
    let current = true
    const timer = setTimeout(() => {
      api.validate(useEditor.getState().document()).then(
        (report) => current && useEditor.getState().setProblems(report.problems),
        (error: Error) => current && useEditor.getState().notify('error', `The workflow could not be checked: ${error.message}`),
      )
    }, 400)
    return () => {
      current = false
      clearTimeout(timer)
    }
  }, [revision, enabled])
}

export function ProblemsIndicator() {
  const problems = useEditor((state) => state.problems)
  const [open, setOpen] = useState(false)
  if (!problems.length) return <span className="muted small" data-testid="valid">✓ valid</span>
  return (
    <span className="problems-indicator">
      <button className="pill error" onClick={() => setOpen(!open)} data-testid="problems">
        {problems.length} problem{problems.length > 1 ? 's' : ''}
      </button>
      {open && (
        <ul className="problems popover" onMouseLeave={() => setOpen(false)}>
          {problems.map((problem, index) => (
            <li key={index}>
              <button className="link" onClick={() => problem.node && useEditor.getState().select(problem.node)}>
                {problem.location}
              </button>
              : {problem.message}
            </li>
          ))}
        </ul>
      )}
    </span>
  )
}

export function Notice() {
  const notice = useEditor((state) => state.notice)
  const [visible, setVisible] = useState(false)
  useEffect(() => {
    if (!notice) return
    setVisible(true)
    const timer = setTimeout(() => setVisible(false), notice.kind === 'error' ? 6000 : 2500)
    return () => clearTimeout(timer)
  }, [notice])
  if (!notice || !visible) return null
  return (
    <div className={`toast ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} onClick={() => setVisible(false)}>
      {notice.text}
    </div>
  )
}
