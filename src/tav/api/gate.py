"""Who is calling, settled before a protected route reads a byte of its body.

FastAPI resolves a route's dependencies after it has read and parsed the body: a JSON body
is read whole (and ``tav.api.limits`` reads it to check its text), a multipart upload is
spooled to disk. Checked there, credentials would come too late: anyone could make the
server read, parse and store 16 MiB before hearing 401. So ``AuthGate``, a pure ASGI
middleware, checks the API key or the session cookie of every request under ``/api/v1``
(but the public auth routes) from its headers alone, answers 401 at once when they are
missing or wrong, and leaves the caller in the scope for ``tav.api.deps.current_principal``:
one lookup per request, as before.

It also applies the cross-site rule of ``tav.api.origins``: an unsafe request (POST, PUT,
PATCH, DELETE) that the session cookie authenticates must say where it comes from, in
``Origin`` or else ``Referer``, and that must be the server's own origin (or one of
``TAV_PUBLIC_ORIGINS``). Every browser the editor supports sends ``Origin`` with such
requests, cross-site or not, so one with neither header is refused too: it is not a
browser page of the editor, and a script uses an API key. The public auth routes take no
cookie to authenticate, but a foreign origin is refused there as well: a page elsewhere
must not create the owner or sign a browser in to an account of its choosing.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from tav.api.deps import PRINCIPAL_SCOPE_KEY, SESSION_COOKIE, authenticate
from tav.api.errors import DATABASE_ERRORS, RETRY_AFTER, ApiError, database_trouble, send_error
from tav.api.origins import OriginPolicy
from tav.storage.auth import AuthRepository

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class AuthGate:
    """Pure ASGI middleware: 401 without credentials, 403 for a cross-site unsafe request,
    for every path under ``prefix`` except those in ``public``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: AuthRepository,
        prefix: str,
        public: frozenset[str],
        origins: OriginPolicy,
    ) -> None:
        self.app = app
        self.auth = auth
        self.prefix = prefix.rstrip("/")
        self.public = public
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self._guarded(path):
            await self.app(scope, receive, send)
            return
        unsafe = scope["method"] not in SAFE_METHODS
        if path in self.public:
            source = self.origins.source(scope) if unsafe else None
            if source is not None and not self.origins.trusts(scope, source):
                await _cross_site(send, source)
                return
            await self.app(scope, receive, send)
            return
        authorization, cookie = _credentials(scope)
        try:
            principal = await authenticate(self.auth, authorization, cookie)
        except ApiError as error:
            await send_error(send, error.status, error.code, error.message)
            return
        except DATABASE_ERRORS as exc:  # (outside the routes: their handlers do not see it)
            message = database_trouble(exc)
            if message is None:
                raise
            retry = [(name.lower().encode(), value.encode()) for name, value in RETRY_AFTER.items()]
            await send_error(send, 503, "database_unavailable", message, None, retry)
            return
        if unsafe and principal.kind == "user" and not await self._same_origin(scope, send):
            return
        scope[PRINCIPAL_SCOPE_KEY] = principal
        await self.app(scope, receive, send)

    def _guarded(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def _same_origin(self, scope: Scope, send: Send) -> bool:
        source = self.origins.source(scope)
        if source is None:
            message = (
                "a request signed in by the session cookie must carry an Origin (or Referer) "
                "header naming this server; scripts use an API key (Authorization: Bearer)"
            )
            await send_error(send, 403, "origin_required", message)
            return False
        if not self.origins.trusts(scope, source):
            await _cross_site(send, source)
            return False
        return True


async def _cross_site(send: Send, source: str) -> None:
    message = (
        f"cross-site request refused: it comes from {source!r}, not from this server's own "
        "origin (behind a proxy, list the origin browsers use in TAV_PUBLIC_ORIGINS)"
    )
    await send_error(send, 403, "cross_site_request", message)


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    """(the bearer token of ``Authorization``, the session cookie), as the request has them."""
    bearer = cookie = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"cookie":
            cookie = cookie_parser(value.decode("latin-1")).get(SESSION_COOKIE) or cookie
    return bearer, cookie
