"""What the service nodes share: credentials of the right kind, stable request ids."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from tav.core.errors import NodeError
from tav.nodes.context import Credential, NodeContext


def credential_field(*kinds: str) -> Any:
    names = " or ".join(f"`{kind}`" for kind in kinds)
    return Field(min_length=1, description=f"Id of a stored {names} credential.")


async def credential_of(ctx: NodeContext, credential_id: str, *kinds: str) -> Credential:
    """The credential, revealed (its secrets are redacted from then on), checked to be of
    one of ``kinds``."""
    credential = await ctx.credential(credential_id)
    if credential.kind not in kinds:
        raise NodeError(
            f"credential {credential.name!r} is a {credential.kind!r} credential; this node "
            f"takes {' or '.join(repr(kind) for kind in kinds)}",
            type="credential_kind",
            retryable=False,
        )
    return credential


def short_key(ctx: NodeContext, length: int = 32) -> str:
    """The node's idempotency key as hex digits, for services that limit its length."""
    return hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:length]
