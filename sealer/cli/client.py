"""A small HTTP client for the /v1 API (stdlib only): JSON in, JSON out, errors as exceptions.

    RequestError
    ├── ClientError        the server answered with an error status; `errors` is its "errors" list
    └── ConnectionFailed   no answer: refused, unreachable, timed out, TLS failure
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from sealer.cli.env import Env

DEFAULT_ADDRESS = "http://127.0.0.1:8200"
TOKEN_FILE = ".sealer-token"
TIMEOUT_SECONDS = 60.0  # Vault's default client timeout
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


class RequestError(Exception):
    pass


class ClientError(RequestError):
    def __init__(self, status: int, errors: list[str]) -> None:
        self.status = status
        self.errors = errors
        super().__init__("; ".join(errors) if errors else f"the server answered HTTP {status}")


class ConnectionFailed(RequestError):
    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        super().__init__(f"cannot reach the Sealer server at {address}: {reason}")


def resolve_address(flag: str | None, env: Env) -> str:
    """-address, else SEALER_ADDR, else VAULT_ADDR, else the local default."""
    address = flag or env.getenv("SEALER_ADDR", "VAULT_ADDR") or DEFAULT_ADDRESS
    address = address.rstrip("/")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"invalid address {address!r}: expected http://host:port or https://host:port")
    return address


def resolve_token(env: Env) -> str | None:
    """SEALER_TOKEN, else VAULT_TOKEN, else ~/.sealer-token (as `vault login` leaves ~/.vault-token)."""
    token = env.getenv("SEALER_TOKEN", "VAULT_TOKEN")
    if token:
        return token
    try:
        token = (env.home / TOKEN_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def store_token(env: Env, token: str) -> Path:
    """Write the token file `login` leaves for later commands: mode 0600 from the start, replaced
    atomically so a reader never sees half a token."""
    path = env.home / TOKEN_FILE
    temporary = path.with_name(f".{TOKEN_FILE}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(token)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


class Client:
    def __init__(self, address: str, token: str | None = None, *, ca_file: str | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.address = address
        self.token = token
        self._timeout = timeout
        handlers: list[urllib.request.BaseHandler] = []
        if _is_local(address):
            # As Go's http client does: a proxy from the environment never applies to localhost.
            handlers.append(urllib.request.ProxyHandler({}))
        if address.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file)))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"Client(address={self.address!r})"  # never the token

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        url = f"{self.address}/v1/{quote(path.lstrip('/'), safe=_PATH_SAFE)}"
        return f"{url}?{urlencode(params)}" if params else url

    def request(self, method: str, path: str, body: object = None,
                params: Mapping[str, str] | None = None,
                content_type: str = "application/json") -> dict[str, Any] | None:
        """Send one request; the decoded JSON body, or None for an empty answer (204)."""
        headers = {"X-Vault-Request": "true", "Accept": "application/json"}
        if self.token:
            headers["X-Vault-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url(path, params), data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise ClientError(exc.code, _errors(exc.read())) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise ConnectionFailed(self.address, text) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(self.address, str(exc) or type(exc).__name__) from None
        if status == 204 or not raw.strip():
            return None
        try:
            decoded = json.loads(raw)
        except ValueError:
            raise ClientError(status, ["the server's answer is not JSON"]) from None
        if not isinstance(decoded, dict):
            raise ClientError(status, ["the server's answer is not a JSON object"])
        return decoded

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: object = None) -> dict[str, Any] | None:
        return self.request("PUT", path, body if body is not None else {})

    def post(self, path: str, body: object = None) -> dict[str, Any] | None:
        return self.request("POST", path, body if body is not None else {})

    def patch(self, path: str, body: object) -> dict[str, Any] | None:
        # Vault's KV v2 PATCH is a JSON merge patch (RFC 7386) and says so in its Content-Type.
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def delete(self, path: str) -> dict[str, Any] | None:
        return self.request("DELETE", path)

    def list(self, path: str) -> dict[str, Any] | None:
        # What Vault's own CLI sends (GET with list=true); the LIST verb is the same operation.
        return self.request("GET", path, params={"list": "true"})


def _errors(raw: bytes) -> list[str]:
    try:
        decoded = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        return [text[:500]] if text else []
    if isinstance(decoded, dict) and isinstance(decoded.get("errors"), list):
        return [str(e) for e in decoded["errors"]]
    return []


def _is_local(address: str) -> bool:
    host = urlsplit(address).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
