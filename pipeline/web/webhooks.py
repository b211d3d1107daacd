"""POST /webhooks/{ses,mailgun,postmark,sendgrid}: ESP bounce, complaint and unsubscribe
events, verified and applied by jobs/webhooks.py (the path inbound mail takes too).

A route exists only for a provider whose keys are set (jobs/webhooks.webhook_keys): any other
answers 404. A request that does not verify gets 401 (no credentials) or 403 (wrong, stale,
replayed) and changes nothing; an authenticated but unusable body 400; a verified request 200
with what was applied, as JSON. The answers say no more than that: the providers log them."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inbound.webhooks import WebhookRejected
from ..jobs.webhooks import WebhookKeys, receive
from .security import read_body

log = logging.getLogger("pipeline.inbound")


def _endpoint(provider: str):
    async def webhook(request: Request) -> Response:
        state = request.app.state
        body = await read_body(request, state.config.inbound.webhooks.max_body_bytes)
        try:
            received = await run_in_threadpool(receive, state.inbound, state.webhook_keys,
                                               provider, body, request.headers,
                                               state.sns_fetch)
        except WebhookRejected as exc:
            if exc.status >= 500:
                log.warning("webhook %s: %s", provider, exc.message)
            else:
                log.info("webhook %s refused (%d): %s", provider, exc.status, exc.message)
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return JSONResponse(received.as_json())
    return webhook


def routes(keys: WebhookKeys) -> list[Route]:
    """One route per provider whose keys are set; the others are not served (404)."""
    return [Route(f"/webhooks/{provider}", _endpoint(provider), methods=["POST"])
            for provider in keys.enabled()]
