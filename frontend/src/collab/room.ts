// A workflow's room: its live draft, shared over the WebSocket of
// /api/v1/workflows/{id}/collab with the standard Yjs sync and awareness protocols
// (y-websocket's provider), and how the connection stands, for the editor to show.
//
// Beyond what the provider does by itself:
// - the browser going offline closes the connection at once (and coming back opens it),
//   rather than after the provider's 30 s without a message;
// - only one's own presence is sent: the provider would send on every change of the
//   awareness it heard, the others' included, which the server refuses (a connection
//   speaks for its own clients only, or is closed with 4400);
// - a change refused by the server (a viewer's; y-protocols' "permission denied" auth
//   message) is told, with the server's reason, instead of only logged;
// - a server that does not answer the WebSocket at all on the first try (one without
//   live co-editing) leaves the editor to edit a copy of its own, saved whole as before;
// - `flush` waits until the server has every change made here: it sends a sync step 1 and
//   waits for its answer, which the server sends after what came before it on the same
//   connection. A save asks for that first, so that it never saves a draft without the
//   last keystrokes, which went out over the WebSocket while the save goes over HTTP.
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebsocketProvider } from 'y-websocket'
import * as auth from 'y-protocols/auth'
import * as sync from 'y-protocols/sync'
import * as Y from 'yjs'
import { create } from 'zustand'

const MESSAGE_SYNC = 0
const MESSAGE_AUTH = 2
/** How long a flush waits for the server's answer before it gives up. */
const FLUSH_MS = 5000

/** `connecting` until the draft first arrives; then `online` or `offline`. */
export type Connection = 'connecting' | 'online' | 'offline'

export interface RoomState {
  workflowId: string | null
  connection: Connection
  /** Changes made here that may not have reached the server (made while offline). */
  unsynced: boolean
  /** Why the server refused a change from here (a viewer's), once it has. */
  refused: string | null
  /** Why the server closed the room for good (signed out, workflow deleted). */
  closed: string | null
}

const INITIAL: RoomState = { workflowId: null, connection: 'connecting', unsynced: false, refused: null, closed: null }

/** How the room of the workflow open in the editor stands. */
export const useRoom = create<RoomState>()(() => INITIAL)

/** Which clients' presence changed, as the awareness tells it. */
type AwarenessChange = { added: number[]; updated: number[]; removed: number[] }

/** The provider's messages: (encoder, decoder, provider, emitSynced, type). */
type Handler = (encoder: encoding.Encoder, decoder: decoding.Decoder, provider: WebsocketProvider, emitSynced: boolean, type: number) => void

/** The server has no live draft to offer (it did not take the WebSocket). */
export class Unavailable extends Error {
  constructor() {
    super('live co-editing is not available on this server')
  }
}

export class Room {
  readonly doc = new Y.Doc()
  readonly provider: WebsocketProvider
  /** Resolved once the draft has arrived; rejected if the room is closed before, or
   * unavailable (`Unavailable`). */
  readonly ready: Promise<void>
  private waiting: ((answered: boolean) => void)[] = []
  private unavailable = false
  private stop: () => void

  readonly workflowId: string

  constructor(workflowId: string) {
    this.workflowId = workflowId
    useRoom.setState({ ...INITIAL, workflowId })
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    this.provider = new WebsocketProvider(`${scheme}://${location.host}/api/v1/workflows`, `${workflowId}/collab`, this.doc, { disableBc: true })
    const handlers = this.provider.messageHandlers as Handler[]
    const syncHandler = handlers[MESSAGE_SYNC]
    handlers[MESSAGE_SYNC] = (encoder, decoder, provider, emitSynced, type) => {
      const step = decoding.peekVarUint(decoder)
      syncHandler(encoder, decoder, provider, emitSynced, type)
      if (step === sync.messageYjsSyncStep2) this.waiting.shift()?.(true)
    }
    const awareness = this.provider.awareness
    const sendAll = this.provider._awarenessUpdateHandler
    const own = awareness.clientID
    awareness.off('update', sendAll)
    this.provider._awarenessUpdateHandler = ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
      const mine = (clients: number[]) => clients.filter((client) => client === own)
      const change = { added: mine(added), updated: mine(updated), removed: mine(removed) }
      if (change.added.length + change.updated.length + change.removed.length) sendAll(change, origin)
    }
    awareness.on('update', this.provider._awarenessUpdateHandler)
    handlers[MESSAGE_AUTH] = (_encoder, decoder) => {
      auth.readAuthMessage(decoder, this.doc, (_doc, reason) => this.set({ refused: reason || 'this account may only view the workflow' }))
    }

    let opened: () => void = () => {}
    let failed: (error: Error) => void = () => {}
    this.ready = new Promise((resolve, reject) => ((opened = resolve), (failed = reject)))
    const onSync = (synced: boolean) => {
      if (!synced) return
      opened()
      this.set({ connection: 'online' })
      // What was changed here while offline went out with the sync; once the server
      // answers a flush, it has it.
      if (useRoom.getState().unsynced) void this.flush().then((done) => done && this.set({ unsynced: false }))
    }
    const onStatus = ({ status }: { status: string }) => {
      if (status === 'connected') connected = true
      if (status === 'connected') return
      for (const waiter of this.waiting.splice(0)) waiter(false)
      if (useRoom.getState().connection !== 'connecting') this.set({ connection: 'offline' })
    }
    let connected = false
    const onConnectionClose = () => {
      if (connected || this.provider.synced) return
      // Refused before it ever opened: no room on this server (or none to be had now).
      // Not `disconnect()`: this is the provider's own close, which that would start again.
      this.provider.shouldConnect = false
      this.unavailable = true
      failed(new Unavailable())
      if (useRoom.getState().workflowId === this.workflowId) useRoom.setState(INITIAL)
    }
    const onClosed = ({ code, reason }: { code: number; reason: string }) => {
      const message = reason || `the server closed the connection (${code})`
      this.set({ closed: message, connection: useRoom.getState().connection === 'connecting' ? 'connecting' : 'offline' })
      failed(new Error(message))
    }
    const onUpdate = (_update: Uint8Array, origin: unknown) => {
      if (origin !== this.provider && !this.provider.synced) this.set({ unsynced: true })
    }
    const offline = () => this.provider.disconnect()
    const online = () => this.unavailable || this.provider.connect()
    this.provider.on('sync', onSync)
    this.provider.on('status', onStatus)
    this.provider.on('closed', onClosed)
    this.provider.on('connection-close', onConnectionClose)
    this.doc.on('update', onUpdate)
    window.addEventListener('offline', offline)
    window.addEventListener('online', online)
    if (!navigator.onLine) offline()
    this.stop = () => {
      window.removeEventListener('offline', offline)
      window.removeEventListener('online', online)
    }
  }

  /** Whether the server did not take the connection (before signing in, say, or a server
   * without live co-editing). */
  get refusedAtOnce(): boolean {
    return this.unavailable
  }

  get awareness() {
    return this.provider.awareness
  }

  /** Waits until the server has every change made here; false when it cannot be told
   * (offline, or no answer in time). */
  flush(): Promise<boolean> {
    const socket = this.provider.ws
    if (!this.provider.synced || !socket || socket.readyState !== WebSocket.OPEN) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((waiter) => waiter !== answered)
        resolve(false)
      }, FLUSH_MS)
      const answered = (ok: boolean) => {
        clearTimeout(timer)
        resolve(ok)
      }
      this.waiting.push(answered)
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, MESSAGE_SYNC)
      sync.writeSyncStep1(encoder, this.doc)
      socket.send(encoding.toUint8Array(encoder))
    })
  }

  destroy(): void {
    this.stop()
    this.provider.destroy()
    this.doc.destroy()
    for (const waiter of this.waiting.splice(0)) waiter(false)
    if (useRoom.getState().workflowId === this.workflowId) useRoom.setState(INITIAL)
  }

  private set(state: Partial<RoomState>): void {
    if (useRoom.getState().workflowId === this.workflowId) useRoom.setState(state)
  }
}
