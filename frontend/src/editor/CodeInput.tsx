// A code param (`format: code`, e.g. code.python's `code`): CodeMirror 6, with Python's
// highlighting, line numbers, and the line the node's last error names marked.
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { python } from '@codemirror/lang-python'
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language'
import { Annotation, EditorState, StateEffect, StateField } from '@codemirror/state'
import { Decoration, type DecorationSet, drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view'
import { useContext, useEffect, useRef } from 'react'
import { changedSpan, errorLine } from '../lib/code'
import { TemplateScope } from './inputs'
import { useEditor } from './store'

/** A change that came from outside the editor (the draft, another person): not echoed. */
const outside = Annotation.define<boolean>()
const markLine = StateEffect.define<number | null>()

/** The marked line follows its text while the code is edited, until the next run. */
const errorMark = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    marks = marks.map(transaction.changes)
    for (const effect of transaction.effects) {
      if (!effect.is(markLine)) continue
      const line = effect.value
      marks =
        line === null || line > transaction.state.doc.lines
          ? Decoration.none
          : Decoration.set([Decoration.line({ class: 'cm-error-line' }).range(transaction.state.doc.line(line).from)])
    }
    return marks
  },
  provide: (field) => EditorView.decorations.from(field),
})

const theme = EditorView.theme({
  '&': { fontSize: '13px', border: '1px solid var(--border-strong)', borderRadius: '6px', background: 'var(--surface, #fff)' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '1px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', maxHeight: '420px', minHeight: '96px' },
  '.cm-gutters': { background: 'transparent', borderRight: '1px solid var(--border)', color: '#9ca3af' },
  '.cm-error-line': { background: 'rgba(248, 113, 113, 0.18)', boxShadow: 'inset 3px 0 0 #ef4444' },
})

interface Props {
  value: string
  onChange: (value: string) => void
  label: string
}

export function CodeInput({ value, onChange, label }: Props) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const changed = useRef(onChange)
  changed.current = onChange
  const nodeId = useContext(TemplateScope)
  const line = useEditor((state) => (nodeId ? errorLine(state.run.nodes[nodeId]?.error) : null))

  useEffect(() => {
    if (!host.current) return
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          highlightActiveLine(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          python(),
          keymap.of([...defaultKeymap.filter((binding) => binding.key !== 'Mod-Enter'), ...historyKeymap, indentWithTab]), // (Mod-Enter runs the workflow)
          EditorState.tabSize.of(4),
          errorMark,
          theme,
          EditorView.contentAttributes.of({ 'aria-label': label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged && !update.transactions.some((t) => t.annotation(outside))) changed.current(update.state.doc.toString())
          }),
        ],
      }),
    })
    view.current = editor
    return () => {
      editor.destroy()
      view.current = null
    }
  }, []) // made once: the value and the mark follow below

  useEffect(() => {
    const editor = view.current
    const span = editor && changedSpan(editor.state.doc.toString(), value)
    if (editor && span) editor.dispatch({ changes: span, annotations: outside.of(true) })
  }, [value])

  useEffect(() => {
    view.current?.dispatch({ effects: markLine.of(line) })
  }, [line])

  return <div className="code-input" ref={host} data-testid="code-input" data-error-line={line ?? undefined} />
}
