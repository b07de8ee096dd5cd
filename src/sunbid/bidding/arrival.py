"""When did a chunk arrive? The server clock read as soon as a chunk upload's last byte is in.

The deadline is judged by the moment the final chunk reached the server (SPEC B-3), not by the moment a busy
server got round to it: in a last-second rush, requests wait for a worker thread (authentication runs there)
and then for their turn to write. This ASGI middleware reads the body of every ``PATCH /api/v1/uploads/{id}``
on the event loop as soon as the request arrives — before any of that waiting — stamps the platform clock when
the last body message is in (``request.state.chunk_received_at``) and hands the same messages on to the
endpoint. Bodies are bounded: past the chunk limit it stops buffering and lets the endpoint refuse the request.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sunbid.bidding.service import MAX_CHUNK

_UPLOAD_PATH = re.compile(r"^/api/v1/uploads/\d+$")
#: Buffer at most this much before handing over (the endpoint refuses anything above its chunk limit).
BUFFER_LIMIT = MAX_CHUNK + 1


class ChunkArrivalMiddleware:
    """Stamps ``chunk_received_at`` on chunk uploads when their last byte has arrived."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "PATCH" or not _UPLOAD_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the endpoint sees the disconnect
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                app = scope.get("app")
                platform = getattr(getattr(app, "state", None), "platform", None)
                if platform is not None:
                    scope.setdefault("state", {})["chunk_received_at"] = platform.clock.now()
                break
            if size > BUFFER_LIMIT:
                break

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send)
