"""The waits of executions: read them, and decide them.

Any member may call these routes; whether they may decide a given wait is the wait's to
say (``tav.core.waits.may_decide``: the members and roles an approval names, else the
editor role), so an approver whose role is ``viewer`` decides what names them. Of two
decisions of the last approval sent at once, one wins and the other gets 409; a wait
decided, timed out or cancelled answers 410.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from tav.api.access import requires
from tav.api.deps import CurrentPrincipal, parts_of
from tav.api.errors import ApiError, responses
from tav.api.routes.executions import ExecutionId
from tav.api.schemas.waits import WaitDecided, WaitDecisionRequest, WaitPublic
from tav.app.waits import Answer, FormInvalid, Waits
from tav.core.errors import NotFound
from tav.core.roles import Role
from tav.core.waits import Decider

router = APIRouter(
    prefix="/executions", tags=["executions"], dependencies=[requires(Role.viewer, Role.viewer)]
)
NodeId = Annotated[str, Path(min_length=1, max_length=64)]


async def get_waits(request: Request) -> Waits:
    waits = parts_of(request).waits
    assert waits is not None  # (a server records its executions)
    return waits


WaitsDep = Annotated[Waits, Depends(get_waits)]


@router.get("/{execution_id}/waits")
async def list_waits(
    execution_id: ExecutionId, waits: WaitsDep, principal: CurrentPrincipal
) -> list[WaitPublic]:
    """Every wait the execution reached, open or not, in the order they opened, each
    saying whether the caller may decide it."""
    found = await waits.of([execution_id])
    asking = Decider(member=principal.user, role=principal.role)
    return [WaitPublic.of(record, asking) for record in found.get(execution_id, [])]


@router.post("/{execution_id}/waits/{node_id}", responses=responses(404, 409, 410))
async def decide_wait(
    execution_id: ExecutionId,
    node_id: NodeId,
    body: WaitDecisionRequest,
    waits: WaitsDep,
    principal: CurrentPrincipal,
) -> WaitDecided:
    """Decide a wait: approve or reject an approval (with the form's `data` and a
    `comment`), resume a webhook wait (the body is the call's), end a timer now."""
    decider = Decider(member=principal.user, role=principal.role)
    answer = Answer(decision=body.decision, comment=body.comment, data=body.data, call=_call(body))
    try:
        decided = await waits.decide(execution_id, node_id, decider, answer)
    except FormInvalid as exc:
        raise ApiError(422, "form_invalid", str(exc), exc.problems) from None
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    outcome = decided.outcome
    return WaitDecided(
        execution_id=execution_id,
        node_id=node_id,
        decided=outcome is not None,
        port=outcome.port if outcome is not None else None,
    )


def _call(body: WaitDecisionRequest) -> dict[str, object]:
    """A webhook wait resumed over the API: as a POST whose body is the request's."""
    return {
        "method": "POST",
        "headers": {},
        "query": {},
        "body": body.model_dump(exclude_unset=True),
    }
