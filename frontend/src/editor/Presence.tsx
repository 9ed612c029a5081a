// The others in the workflow, as the editor shows them: their avatars in the top bar, their
// pointers on the canvas, and how the live draft's connection stands ("offline — changes
// will sync", "view only"). Their selections and open panels are marked on the nodes
// themselves (TavNode, from usePeers' marks).
import { useStore, ViewportPortal } from '@xyflow/react'
import { usePeers, type Peer } from '../collab/presence'
import { useRoom } from '../collab/room'
import { useEditor } from './store'

/** One avatar per person (someone in two tabs is one person), with their name. */
export function PeerAvatars() {
  const peers = usePeers((state) => state.peers)
  const people = [...new Map(peers.map((peer) => [peer.user.id, peer])).values()]
  if (!people.length) return null
  return (
    <ul className="peer-avatars" aria-label="Also here">
      {people.map((peer) => (
        <li key={peer.user.id} className="peer-avatar" style={{ background: peer.user.color }} title={peer.user.name} aria-label={peer.user.name} data-testid="peer-avatar">
          {initials(peer.user.name)}
        </li>
      ))}
    </ul>
  )
}

function initials(name: string): string {
  const words = name.split('@')[0].split(/[\s._-]+/).filter(Boolean)
  return (words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? '?').slice(0, 2)).toUpperCase()
}

/** The others' pointers, where they are in the workflow: drawn in the canvas's own
 * coordinates, so they stay on the same spot of it whatever the zoom and pan. */
export function PeerPointers() {
  const peers = usePeers((state) => state.peers)
  const zoom = useStore((state) => state.transform[2])
  const shown = peers.filter((peer): peer is Peer & { pointer: { x: number; y: number } } => peer.pointer !== null)
  if (!shown.length) return null
  return (
    <ViewportPortal>
      {shown.map((peer) => (
        <div
          key={peer.clientId}
          className="peer-pointer"
          data-testid="peer-pointer"
          data-x={peer.pointer.x}
          data-y={peer.pointer.y}
          // Kept the same size at any zoom: it points at a spot, it is not drawn on it.
          style={{ transform: `translate(${peer.pointer.x}px, ${peer.pointer.y}px) scale(${1 / zoom})`, color: peer.user.color }}
        >
          <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
            <path d="M1 1 L1 13 L4.5 9.5 L7 15 L9 14 L6.6 8.6 L11.5 8.6 Z" fill="currentColor" stroke="white" strokeWidth="1" />
          </svg>
          <span className="peer-pointer-name" style={{ background: peer.user.color }}>
            {peer.user.name}
          </span>
        </div>
      ))}
    </ViewportPortal>
  )
}

/** "offline — changes will sync" while the connection is away, "view only" for a viewer. */
export function DraftState() {
  const connection = useRoom((state) => state.connection)
  const inRoom = useRoom((state) => state.workflowId !== null)
  const closed = useRoom((state) => state.closed)
  const readOnly = useEditor((state) => state.readOnly)
  return (
    <>
      {readOnly && (
        <span className="pill view-only" data-testid="view-only" title="Your role lets you see this workflow, not change it">
          view only
        </span>
      )}
      {inRoom && connection === 'offline' && (
        <span className="pill offline" data-testid="offline" role="status" title={closed ?? 'The connection to the server is away: what you change is kept here and shared once it is back'}>
          {closed ? `disconnected: ${closed}` : 'offline — changes will sync'}
        </span>
      )}
    </>
  )
}
