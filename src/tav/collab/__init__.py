"""Live co-editing: a workflow open in the editor is a Yjs document shared over WebSocket.

``ydoc`` turns a workflow document into a Y.Doc and back; ``protocol`` reads and writes
the Yjs sync and awareness messages; ``room`` is one workflow's live draft and the people
in it; ``rooms`` opens, bounds and closes them; ``ports`` says what they need from the
rest of the server (storage, the workflows, a connection).
"""
