"""The web app people work in: application factory, one blueprint per area (docs/web.md)."""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from typing import Any

from flask import Flask

from .extension import EngineExtension, engine_ext
from .security import SESSION_LIFETIME

__all__ = ["EngineExtension", "create_app", "engine_ext"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` may carry ``ENGINE`` or the URLs to open one.

    Sign-in is enforced for every route by a ``before_request`` guard
    (``security.py``), so blueprints registered later are protected too.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("CRMFLOW_SECRET_KEY") or secrets.token_hex(32),
        DATABASE_URL=None,
        WORKFLOWS=None,
        FACTORY=None,
        ENGINE=None,
        MAX_CONTENT_LENGTH=1024 * 1024,
        NOTIFY_LAYOUT="base.html",  # the notifications page in the app's layout
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # set CRMFLOW_SESSION_COOKIE_SECURE=true behind TLS
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.config.from_prefixed_env("CRMFLOW")
    if config:
        app.config.update(config)
    engine_ext.init_app(app)

    from .api import init_api
    from .i18n import init_i18n
    from .plugins_page import bp as plugins_bp
    from .security import init_security
    from .views import (
        api_docs,
        approvals,
        auth,
        customers,
        inbox,
        instances,
        inventory,
        live,
        orders,
        rollout,
        studio,
    )

    init_security(app)
    init_i18n(app)
    from .activity import init_activity

    init_activity(app)
    live.init_metrics(app)
    for module in (auth, inbox, instances, orders, customers, inventory, approvals, live,
                   api_docs, studio, rollout):  # fmt: skip
        app.register_blueprint(module.bp)
    app.register_blueprint(plugins_bp)
    init_api(app)
    from .errors import init_errors

    init_errors(app)
    engine = engine_ext.get(app)
    menu: list[tuple[str, str]] = []
    for registered in engine.registry.admin_blueprints.values():
        prefix = registered.option("url_prefix")
        app.register_blueprint(registered.obj, url_prefix=prefix)
        # a plugin's JSON routes join /api/openapi.json: its module's OPENAPI_OPERATIONS
        documented = getattr(sys.modules.get(registered.obj.import_name), "OPENAPI_OPERATIONS", {})
        for rule in app.url_map.iter_rules():
            blueprint, _, view = rule.endpoint.partition(".")
            if blueprint == registered.obj.name and view in documented:
                app.extensions["crmflow.api"].spec.path(rule=rule, operations=documented[view])
        if registered.option("menu"):
            menu.append((str(registered.option("menu")), prefix or "/"))

    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"admin_menu": menu, "factory": engine_ext.get().factory}

    # A fresh idempotency key per rendered form: a resent submit is applied once.
    app.jinja_env.globals["new_key"] = lambda: uuid.uuid4().hex

    return app
