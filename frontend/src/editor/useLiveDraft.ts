// The editor in a workflow's live draft: it joins the workflow's room, opens the workflow
// in it, tells the others who is here and what they have selected, goes view-only for a
// viewer (or once the server refused a change), and learns of versions saved elsewhere.
import { useEffect, useState } from 'react'
import { take } from '../api/prefetch'
import type { User } from '../api/types'
import { colorFor, sharePresence, shareSelection, usePeers } from '../collab/presence'
import { Room, useRoom } from '../collab/room'
import { useCommands } from './commands'
import { useEditor } from './store'

/** A change from elsewhere while the draft differs from the version saved last may be a
 * version saved by a script (it reaches the room as one change): the saved version is
 * asked again this long after the last such change. */
const RECHECK_MS = 1500

export function useLiveDraft(workflowId: string, user: User): void {
  // The server refused a change from here (the role was lowered meanwhile): view only from
  // then on, in the draft joined again, as the server has it, without the refused change.
  const [refusedOnce, setRefusedOnce] = useState(false)
  useEffect(() => {
    let room: Room | null = null
    let stop: (() => void)[] = []
    let left = false
    useEditor.getState().setReadOnly(user.role === 'viewer' || refusedOnce)
    // The room of a workflow opened by its link was joined while the editor's code loaded
    // (App.tsx); one refused then (before signing in) is joined again.
    void take(`room:${workflowId}`, async () => new Room(workflowId)).then((early) => {
      if (left) return early.destroy()
      if (early.refusedAtOnce) early.destroy()
      room = early.refusedAtOnce ? new Room(workflowId) : early
      stop = [sharePresence(room.awareness, { id: user.id, name: user.email, color: colorFor(user.id) }), shareSelections(), followSaves(room)]
      void useCommands.getState().open(workflowId, room)
    })
    return () => {
      left = true
      stop.forEach((end) => end())
      room?.destroy()
    }
  }, [workflowId, user.id, user.email, user.role, refusedOnce])

  const refused = useRoom((state) => state.refused)
  useEffect(() => {
    if (!refused) return
    useEditor.getState().setReadOnly(true)
    useEditor.getState().notify('error', `View only: ${refused}`)
    setRefusedOnce(true)
  }, [refused])
}

/** The selected nodes, and the one whose panel is open (the panel shows the one node
 * selected), as one's presence. */
function shareSelections(): () => void {
  let last: unknown = null
  return useEditor.subscribe((state) => {
    if (state.nodes === last) return
    last = state.nodes
    const selected = state.nodes.filter((node) => node.selected).map((node) => node.id)
    shareSelection(selected, selected.length === 1 ? selected[0] : null)
  })
}

/** A version saved by someone else in the room (they say so in their presence), or by a
 * script (a change from elsewhere), becomes the one the draft is compared with. */
function followSaves(room: Room): () => void {
  const refresh = () => void useCommands.getState().refreshSaved()
  let told = 0
  const stopPeers = usePeers.subscribe((state) => {
    const saved = Math.max(0, ...state.peers.map((peer) => peer.saved ?? 0))
    if (saved <= told) return
    told = saved
    if (saved > useEditor.getState().version) refresh()
  })
  let timer: ReturnType<typeof setTimeout> | null = null
  const onUpdate = (_update: Uint8Array, origin: unknown) => {
    if (origin !== room.provider || !useEditor.getState().dirty) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(refresh, RECHECK_MS)
  }
  room.doc.on('update', onUpdate)
  return () => {
    stopPeers()
    if (timer) clearTimeout(timer)
    room.doc.off('update', onUpdate)
  }
}
