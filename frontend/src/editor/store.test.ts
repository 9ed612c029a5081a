import { beforeEach, describe, expect, it } from 'vitest'
import { catalog, storedExecution, storedWorkflow } from '../lib/fixtures'
import { openedRun, progressText, reduceRun, type RunState } from './run'
import { useEditor } from './store'

const stored = storedWorkflow({ ui: { positions: { start: [0, 0] } } })

describe('the editor store', () => {
  beforeEach(() => useEditor.getState().load(stored, catalog))

  it("sets and removes the workflow's own fields (an MCP tool), as a change that undoes", () => {
    const editor = useEditor.getState()
    editor.updateBase({ mcp: { name: 'place_order' }, input_schema: { type: 'object' } })
    expect(useEditor.getState().document()).toMatchObject({ mcp: { name: 'place_order' }, input_schema: { type: 'object' } })
    expect(useEditor.getState().dirty).toBe(true)
    editor.updateBase({ mcp: undefined })
    expect(JSON.parse(JSON.stringify(useEditor.getState().document())).mcp).toBeUndefined()
    editor.updateBase({ input_schema: undefined })
    expect(useEditor.getState().dirty).toBe(false)
  })

  it('adds and connects nodes, then undoes and redoes them', () => {
    const editor = useEditor.getState()
    editor.addNode('core.set', { x: 300, y: 0 }, 'start')
    expect(useEditor.getState().document().edges).toEqual([{ from: 'start', to: 'set' }])
    expect(useEditor.getState().dirty).toBe(true)
    editor.undo()
    expect(useEditor.getState().document().nodes.map((n) => n.id)).toEqual(['start'])
    expect(useEditor.getState().dirty).toBe(false)
    editor.redo()
    expect(useEditor.getState().document().nodes.map((n) => n.id)).toEqual(['start', 'set'])
  })

  it('adds a node after a given output port, and stops adding after it', () => {
    const editor = useEditor.getState()
    editor.addNode('core.if', { x: 300, y: 0 }, 'start')
    editor.addAfter({ node: 'if', port: 'false' })
    expect(useEditor.getState().addingAfter).toEqual({ node: 'if', port: 'false' })
    editor.addNode('core.set', { x: 600, y: 100 }, 'if', 'false')
    expect(useEditor.getState().document().edges).toEqual([
      { from: 'start', to: 'if' },
      { from: 'if:false', to: 'set' },
    ])
    expect(useEditor.getState().addingAfter).toBeNull()
    expect(useEditor.getState().nodes.filter((node) => node.selected).map((node) => node.id)).toEqual(['set'])
    // A port the node does not have: its first output instead.
    editor.addNode('core.set', { x: 600, y: 300 }, 'if', 'nope')
    expect(useEditor.getState().document().edges.at(-1)).toEqual({ from: 'if:true', to: 'set_2' })
  })

  it('refuses invalid connections with the reason', () => {
    const editor = useEditor.getState()
    editor.addNode('core.set', { x: 300, y: 0 })
    expect(editor.connect({ source: 'set', target: 'set', sourceHandle: 'output', targetHandle: 'input' })).toMatch(/itself/)
    expect(editor.connect({ source: 'start', target: 'set', sourceHandle: 'output', targetHandle: 'input' })).toBeNull()
    expect(useEditor.getState().edges).toHaveLength(1)
  })

  it('makes one undo step of quick edits to the same field', () => {
    const editor = useEditor.getState()
    editor.addNode('core.set', { x: 300, y: 0 })
    for (const text of ['a', 'ab', 'abc']) editor.updateNode('set', (def) => ({ ...def, params: { text } }), 'param:text')
    editor.undo()
    expect(useEditor.getState().document().nodes[1].params).toBeUndefined()
  })
})

describe('notes, pins, paste and layout in the store', () => {
  beforeEach(() => useEditor.getState().load(stored, catalog))

  it('keeps sticky notes in ui.notes, with undo', () => {
    const editor = useEditor.getState()
    const id = editor.addNote({ x: 10, y: 20 })
    editor.updateNote(id, { text: 'Remember the API limit' })
    expect(useEditor.getState().document().ui?.notes).toEqual([{ id, text: 'Remember the API limit', position: [10, 20], size: [220, 120], color: 'yellow' }])
    expect(useEditor.getState().dirty).toBe(true)
    editor.undo()
    editor.undo()
    expect(useEditor.getState().document().ui).not.toHaveProperty('notes')
    expect(useEditor.getState().dirty).toBe(false)
  })

  it('moves notes and nodes through React Flow changes without mixing them up', () => {
    const editor = useEditor.getState()
    const id = editor.addNote({ x: 0, y: 0 })
    editor.onNodesChange([{ type: 'position', id, position: { x: 50, y: 60 }, dragging: false }])
    editor.onNodesChange([{ type: 'remove', id: 'start' }])
    expect(useEditor.getState().notes[0].position).toEqual({ x: 50, y: 60 })
    expect(useEditor.getState().nodes).toHaveLength(0)
  })

  it('pins and unpins a node output', () => {
    const editor = useEditor.getState()
    editor.setPin('start', { output: { name: 'Ada' } })
    expect(useEditor.getState().document().nodes[0].pin).toEqual({ output: { name: 'Ada' } })
    editor.setPin('start', undefined)
    expect(useEditor.getState().document().nodes[0]).not.toHaveProperty('pin')
  })

  it('copies and pastes the selection as one undo step', () => {
    const editor = useEditor.getState()
    editor.addNode('core.set', { x: 300, y: 0 }, 'start')
    editor.selectAll()
    const copied = useEditor.getState().copy()!
    expect(editor.paste(copied, { x: 0, y: 300 })).toBe(2)
    const ids = useEditor.getState().nodes.map((n) => n.id)
    expect(ids).toEqual(['start', 'set', 'start_2', 'set_2'])
    expect(useEditor.getState().document().edges).toEqual([
      { from: 'start', to: 'set' },
      { from: 'start_2', to: 'set_2' },
    ])
    expect(useEditor.getState().nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(['start_2', 'set_2'])
    editor.undo()
    expect(useEditor.getState().nodes).toHaveLength(2)
  })

  it('lays the workflow out from left to right, where the first node was', () => {
    const editor = useEditor.getState()
    editor.addNode('core.set', { x: -500, y: 400 }, 'start')
    editor.layout()
    const [start, set] = useEditor.getState().nodes
    expect(start.position).toEqual({ x: 0, y: 0 })
    expect(set.position.y).toBe(0)
    expect(set.position.x).toBeGreaterThan(200)
  })
})

describe('run state from events', () => {
  const base: RunState = { executionId: 'e', status: 'running', nodes: {}, execution: null, durationMs: null, live: true }
  const about = { seq: 1, execution_id: 'e', at: '' }
  const node = { ...about, node_id: 'a' }

  it('moves nodes through their states with attempts and durations', () => {
    let run = reduceRun(base, { ...node, type: 'node.started', attempt: 1 })
    expect(run.nodes.a.status).toBe('running')
    run = reduceRun(run, { ...node, type: 'node.retrying', attempt: 1, delay_s: 1, error: { type: 'x', message: 'boom' } })
    expect(run.nodes.a).toMatchObject({ status: 'retrying', error: { message: 'boom' } })
    run = reduceRun(run, { ...node, type: 'node.completed', attempts: 2, ports: ['output'], duration_ms: 12, pinned: false })
    expect(run.nodes.a).toMatchObject({ status: 'succeeded', attempt: 2, durationMs: 12 })
    run = reduceRun(run, { ...about, seq: 9, type: 'execution.completed', status: 'succeeded', duration_ms: 20, error: null })
    expect(run).toMatchObject({ status: 'succeeded', durationMs: 20 })
  })

  it('tells why a node failed or was skipped, and how an execution ended', () => {
    let run = reduceRun(base, { ...node, type: 'node.failed', attempts: 3, duration_ms: 7, error: { type: 'HttpError', message: 'HTTP 500' } })
    expect(run.nodes.a).toMatchObject({ status: 'failed', attempt: 3, durationMs: 7, error: { message: 'HTTP 500' } })
    run = reduceRun(run, { ...node, node_id: 'b', type: 'node.skipped', reason: 'branch not taken' })
    expect(run.nodes.b).toMatchObject({ status: 'skipped', reason: 'branch not taken' })
    run = reduceRun(run, { ...about, type: 'execution.failed', status: 'failed', duration_ms: 30, error: { type: 'NodeFailed', message: 'a failed' } })
    expect(run).toMatchObject({ status: 'failed', durationMs: 30 })
  })

  it('streams progress tokens into the node output', () => {
    let run = reduceRun(base, { ...node, type: 'node.progress', data: { token: 'Hel' } })
    run = reduceRun(run, { ...node, type: 'node.progress', data: { token: 'lo' } })
    expect(run.nodes.a.progress).toBe('Hello')
    expect(progressText({ step: 1 })).toBe('{"step":1}\n')
    expect(progressText({ attempt: { provider: 'openai', model: 'gpt', outcome: 'failed', error: 'HTTP 500' } })).toBe('[openai · gpt: failed — HTTP 500]\n')
  })
})

describe('a past execution on the canvas', () => {
  const execution = storedExecution({
    nodes: {
      start: { status: 'succeeded', attempts: 1, outputs: { output: 1 }, error: null, started_at: null, finished_at: null, duration_ms: 2 },
      chat: { status: 'succeeded', attempts: 0, outputs: { output: 2 }, error: null, started_at: null, finished_at: null, duration_ms: 5, reused: true },
    },
  })

  it('shows a finished execution as stored, without following its stream', () => {
    const run = openedRun(execution, ['start', 'chat'])
    expect(run).toMatchObject({ executionId: 'e1', status: 'succeeded', durationMs: 1000, live: false, execution })
    expect(run.nodes.start).toMatchObject({ status: 'succeeded', durationMs: 2, attempt: 1 })
    expect(run.nodes.chat.reused).toBe(true)
  })

  it('follows one that is still running from its first event', () => {
    const run = openedRun({ ...execution, status: 'running' }, ['start', 'chat'])
    expect(run).toMatchObject({ executionId: 'e1', live: true, execution: null })
    expect(run.nodes.start.status).toBe('queued')
  })

  it('stops following a live run once its execution is read finished', () => {
    useEditor.getState().startRun('e1')
    useEditor.getState().setExecution(execution)
    expect(useEditor.getState().run).toMatchObject({ live: false, status: 'succeeded', durationMs: 1000 })
  })
})
