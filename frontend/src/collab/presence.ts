// Who else is in the workflow (Yjs awareness): each person's name and colour, their
// pointer on the canvas (in flow coordinates, so that it lands on the same spot of the
// workflow at any zoom and pan), the nodes they have selected and the node whose panel
// they have open. Awareness is not part of the document: it is never saved, never undone,
// and a person's state goes when they leave (or 30 s after their browser stops telling).
import type { XYPosition } from '@xyflow/react'
import { create } from 'zustand'
import type { Awareness } from 'y-protocols/awareness'

/** What one person tells the others (their awareness state). */
export interface Presence {
  user: { id: string; name: string; color: string }
  pointer: XYPosition | null
  selected: string[]
  panel: string | null
  /** The version they saved last, so that the others learn of it. */
  saved?: number
}

/** Another person in the workflow. */
export interface Peer extends Presence {
  clientId: number
}

/** Someone else's mark on a node: selected by them, or open in their panel. */
export interface Mark {
  name: string
  color: string
  panel: boolean
}

interface PeersState {
  peers: Peer[]
  /** The marks on each node, by node id (an unchanged node keeps the same array). */
  marks: Record<string, Mark[]>
}

export const usePeers = create<PeersState>()(() => ({ peers: [], marks: {} }))

/** Distinct on white and on the canvas, and none of them the editor's own accent. */
const COLORS = ['#e11d48', '#0891b2', '#d97706', '#16a34a', '#9333ea', '#db2777', '#2563eb', '#65a30d']

/** A person's colour: the same in every session, from their user id. */
export function colorFor(id: string): string {
  let hash = 0
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) | 0
  return COLORS[Math.abs(hash) % COLORS.length]
}

/** The others in the room, from the awareness states (one's own left out). */
export function peersOf(states: Map<number, Record<string, unknown>>, own: number): Peer[] {
  const peers: Peer[] = []
  for (const [clientId, state] of states) {
    const user = state.user as Presence['user'] | undefined
    if (clientId === own || !user || typeof user.name !== 'string') continue
    const pointer = state.pointer as XYPosition | null | undefined
    const selected = Array.isArray(state.selected) ? state.selected.filter((id): id is string => typeof id === 'string') : []
    const panel = typeof state.panel === 'string' ? state.panel : null
    const valid = pointer && Number.isFinite(pointer.x) && Number.isFinite(pointer.y)
    const saved = typeof state.saved === 'number' ? state.saved : undefined
    peers.push({ clientId, user: { id: String(user.id), name: user.name, color: safeColor(user.color) }, pointer: valid ? pointer : null, selected, panel, saved })
  }
  return peers.sort((a, b) => a.clientId - b.clientId)
}

/** A colour from someone else's state, only if it is one (it lands in a style). */
function safeColor(color: unknown): string {
  return typeof color === 'string' && /^#[0-9a-f]{6}$/i.test(color) ? color : '#64748b'
}

/** The marks on each node; the arrays of `previous` for nodes whose marks are the same. */
export function marksOf(peers: Peer[], previous: Record<string, Mark[]> = {}): Record<string, Mark[]> {
  const marks: Record<string, Mark[]> = {}
  for (const peer of peers) {
    const ids = new Set([...peer.selected, ...(peer.panel ? [peer.panel] : [])])
    for (const id of ids) (marks[id] ??= []).push({ name: peer.user.name, color: peer.user.color, panel: peer.panel === id })
  }
  for (const [id, list] of Object.entries(marks)) {
    if (previous[id] && JSON.stringify(previous[id]) === JSON.stringify(list)) marks[id] = previous[id]
  }
  return marks
}

let shared: Awareness | null = null
let pointerTimer: ReturnType<typeof setTimeout> | null = null
let nextPointer: XYPosition | null = null

/** The pointer is told at most this often. */
const POINTER_MS = 50

/** Tells the room who is here, and follows who else is; the function returned stops. */
export function sharePresence(awareness: Awareness, user: Presence['user']): () => void {
  shared = awareness
  awareness.setLocalState({ user, pointer: null, selected: [], panel: null } satisfies Presence)
  const changed = () => {
    const peers = peersOf(awareness.getStates() as Map<number, Record<string, unknown>>, awareness.clientID)
    const selections = (list: Peer[]) => JSON.stringify(list.map((peer) => [peer.clientId, peer.user, peer.selected, peer.panel]))
    const { peers: before, marks } = usePeers.getState()
    usePeers.setState({ peers, marks: selections(before) === selections(peers) ? marks : marksOf(peers, marks) })
  }
  awareness.on('change', changed)
  changed()
  return () => {
    awareness.off('change', changed)
    if (pointerTimer) clearTimeout(pointerTimer)
    pointerTimer = null
    if (shared === awareness) shared = null
    usePeers.setState({ peers: [], marks: {} })
  }
}

/** Where one's pointer is on the canvas (flow coordinates), or null once it left it. */
export function sharePointer(point: XYPosition | null): void {
  nextPointer = point ? { x: Math.round(point.x), y: Math.round(point.y) } : null
  if (pointerTimer) return
  pointerTimer = setTimeout(() => {
    pointerTimer = null
    shared?.setLocalStateField('pointer', nextPointer)
  }, POINTER_MS)
}

/** The nodes one has selected, and the node whose panel one has open. */
export function shareSelection(selected: string[], panel: string | null): void {
  const state = shared?.getLocalState()
  if (!shared || !state) return
  if (JSON.stringify(state.selected) === JSON.stringify(selected) && state.panel === panel) return
  shared.setLocalState({ ...state, selected, panel })
}

/** That one just saved the draft as `version`. */
export function shareSaved(version: number): void {
  shared?.setLocalStateField('saved', version)
}
