"""The admin web app: application factory, one blueprint per area."""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask

from .extension import EngineExtension, engine_ext

__all__ = ["EngineExtension", "create_app", "engine_ext"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the admin app; ``config`` may carry ``ENGINE`` or the URLs to open one."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("CRMFLOW_SECRET_KEY") or secrets.token_hex(32),
        DATABASE_URL=None,
        WORKFLOWS=None,
        FACTORY=None,
        ENGINE=None,
    )
    app.config.from_prefixed_env("CRMFLOW")
    if config:
        app.config.update(config)
    engine_ext.init_app(app)

    from .dashboard import bp as dashboard_bp
    from .plugins_page import bp as plugins_bp

    app.register_blueprint(dashboard_bp)
    app.register_blueprint(plugins_bp)
    engine = engine_ext.get(app)
    menu: list[tuple[str, str]] = []
    for registered in engine.registry.admin_blueprints.values():
        prefix = registered.option("url_prefix")
        app.register_blueprint(registered.obj, url_prefix=prefix)
        if registered.option("menu"):
            menu.append((str(registered.option("menu")), prefix or "/"))

    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"admin_menu": menu}

    return app
