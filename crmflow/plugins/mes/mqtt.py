"""MQTT subscriber (paho-mqtt 2.x, callback API v2): persistent session, manual acks."""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .ingest import Incoming
from .mapping import Connector, Subscription
from .store import report_status

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["MqttSource"]

log = logging.getLogger("crmflow.mes.mqtt")


class MqttSource:
    """Subscribes a connector's topics and puts each message on ``out``.

    The session is persistent (clean session off, QoS 1) and messages are
    acknowledged only after their batch committed, so the broker keeps and
    redelivers what was not yet applied across reconnects and restarts; the
    message key makes a redelivery a no-op. paho's network thread reconnects
    with backoff; ``on_connect`` subscribes again. Callbacks never raise.
    """

    def __init__(self, engine: Engine, connector: Connector, out: queue.Queue[Incoming]) -> None:
        self.engine = engine
        self.connector = connector
        self.out = out
        s = connector.settings
        self.host = str(s["host"])
        self.port = int(s.get("port", 1883))
        default_id = "crmflow-" + hashlib.sha1(connector.name.encode()).hexdigest()[:12]
        self.client_id = str(s.get("client_id") or default_id)
        #: set once connected and subscribed, cleared when the connection drops
        self.connected = threading.Event()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            manual_ack=True,
        )
        self.client.max_inflight_messages_set(int(s.get("max_inflight", 1000)))
        # paho types the delays as int but sleeps on floats; a sub-second first retry matters
        self.client.reconnect_delay_set(
            float(s.get("reconnect_min", 0.2)),  # type: ignore[arg-type]
            float(s.get("reconnect_max", 30)),  # type: ignore[arg-type]
        )
        user = s.get("username")
        if user:
            password_env = s.get("password_env")
            self.client.username_pw_set(
                str(user), os.environ.get(password_env) if password_env else None
            )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self.client.connect_async(
            self.host, self.port, keepalive=int(self.connector.settings.get("keepalive", 30))
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # -- callbacks (paho's network thread) ----------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                self._status("refused", f"broker refused the connection: {reason}")
                return
            subs = [(s.topic, s.qos) for s in self.connector.subscriptions]
            client.subscribe(subs)
            log.info(
                "%s: connected to %s:%s, subscribed %d topic(s)",
                self.connector.name,
                self.host,
                self.port,
                len(subs),
            )
        except Exception:
            log.exception("%s: on_connect failed", self.connector.name)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        try:
            failed = [str(r) for r in reasons if r.is_failure]
            if failed:
                self._status("refused", f"subscription refused: {', '.join(failed)}")
                return
            self.connected.set()  # subscribed: from now on the broker keeps our messages
            self._status("connected", None)
        except Exception:
            log.exception("%s: on_subscribe failed", self.connector.name)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        try:
            self.connected.clear()
            if reason.is_failure:
                self._status("reconnecting", f"connection lost: {reason}")
        except Exception:
            log.exception("%s: on_disconnect failed", self.connector.name)

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            sub = self._match(msg.topic)
            if sub is None:
                client.ack(msg.mid, msg.qos)
                return
            mid, qos = msg.mid, msg.qos
            self.out.put(
                Incoming(
                    source=msg.topic,
                    payload=bytes(msg.payload),
                    subscription=sub,
                    ack=lambda: client.ack(mid, qos) if qos else None,
                )
            )
        except Exception:
            log.exception(
                "%s: a message on %s could not be queued",
                self.connector.name,
                getattr(msg, "topic", "?"),
            )

    def _match(self, topic: str) -> Subscription | None:
        for sub in self.connector.subscriptions:
            if sub.topic is not None and paho.topic_matches_sub(sub.topic, topic):
                return sub
        return None

    def _status(self, state: str, error: str | None) -> None:
        try:
            report_status(self.engine, self.connector.name, "mqtt", state, error=error)
        except Exception:
            log.warning("%s: could not record state %s", self.connector.name, state, exc_info=True)
