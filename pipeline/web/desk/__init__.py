"""`digest desk`: the editor's page (its own Starlette application; app.py lists the routes)."""

from .app import create_desk_app, serve_desk
from .auth import desk_password_hash, make_hash

__all__ = ["create_desk_app", "desk_password_hash", "make_hash", "serve_desk"]
