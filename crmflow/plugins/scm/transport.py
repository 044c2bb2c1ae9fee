"""EDI folders: a local folder or an SFTP path (asyncssh); files land as `.part`, then renamed."""

from __future__ import annotations

import asyncio
import os
import posixpath
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from crmflow.errors import ConfigError

__all__ = ["Folder", "LocalFolder", "SftpFolder", "open_folder"]


class Folder(Protocol):
    """What the EDI service needs of an inbox or outbox."""

    where: str

    def names(self) -> list[str]: ...
    def read(self, name: str) -> bytes: ...
    def move(self, name: str, sub: str, reason: str | None = None) -> None: ...
    def put(self, name: str, data: bytes) -> None: ...


class LocalFolder:
    """A folder on this machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def names(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(
            p.name
            for p in self.path.iterdir()
            if p.is_file() and not p.name.endswith(".part") and not p.name.startswith(".")
        )

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def move(self, name: str, sub: str, reason: str | None = None) -> None:
        target = self.path / sub
        target.mkdir(parents=True, exist_ok=True)
        if reason is not None:
            _atomic(target / f"{name}.reason", reason.encode())
        os.replace(self.path / name, target / name)

    def put(self, name: str, data: bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic(self.path / name, data)


def _atomic(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(part, path)


class SftpFolder:
    """A folder on a trading partner's SFTP server (one connection per operation group)."""

    def __init__(self, url: str, settings: dict[str, Any]) -> None:
        parts = urlsplit(url)
        self.where = url
        self.host = parts.hostname or ""
        self.port = parts.port or 22
        self.path = parts.path or "/"
        self.user = parts.username or settings.get("sftp_user")
        key_env = settings.get("sftp_key_env")
        password_env = settings.get("sftp_password_env")
        self.key = os.environ.get(key_env) if key_env else None
        self.password = os.environ.get(password_env) if password_env else None
        if key_env and not self.key:
            raise ConfigError(f"connectors.scm.sftp_key_env: ${key_env} is not set")
        if password_env and not self.password:
            raise ConfigError(f"connectors.scm.sftp_password_env: ${password_env} is not set")
        known = settings.get("sftp_known_hosts")
        self.known_hosts: Any = known if known else None  # None: host key not checked

    def _run(self, func: Any) -> Any:
        import asyncssh

        async def go() -> Any:
            options: dict[str, Any] = {"known_hosts": self.known_hosts, "username": self.user}
            if self.key:
                options["client_keys"] = [asyncssh.import_private_key(self.key)]
            if self.password:
                options["password"] = self.password
            async with asyncssh.connect(self.host, self.port, **options) as conn:
                async with conn.start_sftp_client() as sftp:
                    return await func(sftp)

        return asyncio.run(go())

    def _p(self, *names: str) -> str:
        return posixpath.join(self.path, *names)

    def names(self) -> list[str]:
        async def go(sftp: Any) -> list[str]:
            out = []
            for entry in await sftp.readdir(self.path):
                name = entry.filename
                if name.startswith(".") or name.endswith(".part"):
                    continue
                if entry.attrs.type == 1:  # a regular file
                    out.append(name)
            return sorted(out)

        return list(self._run(go))

    def read(self, name: str) -> bytes:
        async def go(sftp: Any) -> bytes:
            async with sftp.open(self._p(name), "rb") as handle:
                return bytes(await handle.read())

        return bytes(self._run(go))

    def move(self, name: str, sub: str, reason: str | None = None) -> None:
        async def go(sftp: Any) -> None:
            target = self._p(sub)
            if not await sftp.exists(target):
                await sftp.makedirs(target, exist_ok=True)
            if reason is not None:
                await _put(sftp, posixpath.join(target, f"{name}.reason"), reason.encode())
            await _rename(sftp, self._p(name), posixpath.join(target, name))

        self._run(go)

    def put(self, name: str, data: bytes) -> None:
        async def go(sftp: Any) -> None:
            await _put(sftp, self._p(name), data)

        self._run(go)


async def _put(sftp: Any, path: str, data: bytes) -> None:
    part = path + ".part"
    async with sftp.open(part, "wb") as handle:
        await handle.write(data)
    await _rename(sftp, part, path)


async def _rename(sftp: Any, source: str, target: str) -> None:
    """Rename over an existing file (OpenSSH's posix-rename), else a plain SFTP rename."""
    try:
        await sftp.posix_rename(source, target)
    except Exception:  # a server without the extension
        await sftp.rename(source, target)


def open_folder(value: Any, base: Path, settings: dict[str, Any], key: str) -> Folder:
    """The folder a setting names: `sftp://user@host:port/path` or a path (relative to base)."""
    if not value:
        raise ConfigError(f"connectors.scm.{key}: give a folder or an sftp:// url")
    text = str(value)
    if text.startswith("sftp://"):
        return SftpFolder(text, settings)
    path = Path(text)
    return LocalFolder(path if path.is_absolute() else base / path)
