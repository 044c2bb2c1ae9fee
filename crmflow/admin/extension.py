"""The Flask extension that hands views the factory's Engine."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

__all__ = ["EngineExtension", "engine_ext"]


class EngineExtension:
    """Keeps one Engine per app in ``app.extensions`` (the app itself is not stored)."""

    name = "crmflow"

    def init_app(self, app: Flask) -> None:
        engine = app.config.get("ENGINE")
        if engine is None:
            from crmflow.core.engine import Engine

            engine = Engine.open(
                database_url=app.config.get("DATABASE_URL"),
                workflows=app.config.get("WORKFLOWS"),
                factory=app.config.get("FACTORY"),
            )
        app.extensions[self.name] = engine

    def get(self, app: Flask | None = None) -> Any:
        return (app or current_app).extensions[self.name]


engine_ext = EngineExtension()
