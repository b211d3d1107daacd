"""The subscriber-facing web side: one-click unsubscribe (RFC 8058), double opt-in signup and
the public archive, as one small Starlette application served by uvicorn (`digest serve`)."""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
