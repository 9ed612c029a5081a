"""``Model``: the base of TAV's Pydantic models."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A Pydantic model whose validator and serializer are built on first use.

    Building them at import costs about a millisecond per model, and a server imports some
    two hundred models (API schemas, node params, events, credential kinds) of which a
    request needs a handful: deferring them shortens ``tav serve``'s start by a tenth.
    FastAPI's request and response adapters follow the model's setting, so a route's
    models are built by the route's first request. Behaviour is otherwise identical."""

    model_config = ConfigDict(defer_build=True)
