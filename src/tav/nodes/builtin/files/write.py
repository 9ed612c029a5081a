"""``file.write``: store content as a file of the execution and pass on its file value."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field

from tav.core.media import guess_mime_type, is_media
from tav.core.model import Model
from tav.nodes.base import Node, NodeSpec, Outputs, Port
from tav.nodes.capabilities import media_content, media_param
from tav.nodes.context import NodeContext
from tav.nodes.host import FILES


class FileWriteParams(Model):
    model_config = ConfigDict(extra="forbid")

    content: Any = Field(
        None,
        description="Text, a media value, or any JSON value (written as JSON); default: "
        "what arrived on the input port.",
    )
    name: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="File name; default: the media value's, or file.txt / data.json.",
    )
    mime_type: str | None = Field(
        None, min_length=3, description="Default: the media value's, else from the name."
    )


class FileWrite(Node):
    """Stores content as a file of this execution (deleted with it) and outputs its file
    value (MediaFormat, `uri` `file:<id>`, download URL in `metadata.url`), which other
    nodes read, attach or pass on."""

    spec = NodeSpec(type="file.write", title="Write file", category="files", icon="file-plus")
    Params = FileWriteParams
    requires = (FILES,)
    outputs = {"output": Port("The file value (MediaFormat, uri file:<id>).")}

    async def run(self, params: FileWriteParams, input: Any, ctx: NodeContext) -> Outputs:
        value = params.content if params.content is not None else input
        name, mime_type = params.name, params.mime_type
        if is_media(value):
            media = media_param(value, where="the content")
            data = await media_content(ctx, media)
            name = name or media.name or "file"
            mime_type = mime_type or (media.mime_type if not params.name else None)
        elif isinstance(value, str):
            data, name = value.encode(), name or "file.txt"
        else:
            data = json.dumps(value, ensure_ascii=False, indent=2).encode()
            name = name or "data.json"
            mime_type = mime_type or guess_mime_type(name) or "application/json"
        files = ctx.service(FILES)
        stored = await files.save(
            data, name=name, mime_type=mime_type, execution_id=ctx.execution_id
        )
        return {"output": stored}
