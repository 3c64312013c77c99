"""Vault's audit entry layout (audit/format.go, audit/types.go): what one request or response line
says, with its sensitive values hashed under the device's salt."""

from __future__ import annotations

import functools
import time
from typing import Any

from engine.audit.hashing import hash_structure, plain_structure, salted
from engine.request import RawResponse, Request, Response


class Hasher:
    """One device's view of what to hide: Vault's salt, hmac_accessor and log_raw.

    The HMACs of client tokens and accessors are remembered (a bounded map, per device): the same
    few tokens come back on request after request, and each is hashed four times per request. A
    value's HMAC under the device's salt never changes, and the salt is the device's for its whole
    life, so nothing here can go stale. Request and response data are hashed afresh each time."""

    __slots__ = ("_hash", "_known", "hmac_accessor", "log_raw", "salt")

    def __init__(self, salt: bytes, *, hmac_accessor: bool = True, log_raw: bool = False) -> None:
        self.salt = salt
        self._hash = salted(salt)
        self.hmac_accessor = hmac_accessor
        self.log_raw = log_raw
        self._known: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Hasher(hmac_accessor={self.hmac_accessor}, log_raw={self.log_raw})"

    def value(self, text: str) -> str:
        return text if self.log_raw or not text else self._hash(text)

    def token(self, text: str) -> str:
        """A client token or an accessor: the same value hashes the same, so it is looked up first."""
        if self.log_raw or not text:
            return text
        hashed = self._known.get(text)
        if hashed is None:
            if len(self._known) >= KNOWN_TOKENS:
                self._known.clear()  # many distinct tokens: start over rather than track which is oldest
            hashed = self._known[text] = self._hash(text)
        return hashed

    def accessor(self, text: str) -> str:
        return self.token(text) if self.hmac_accessor else text

    def structure(self, value: Any) -> Any:
        return plain_structure(value) if self.log_raw else hash_structure(self._hash, value)


# Tokens and accessors whose HMACs a device remembers.
KNOWN_TOKENS = 4096


def rfc3339_nano(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return f"{_date_and_time(seconds)}.{frac:09d}Z"


@functools.lru_cache(maxsize=4)
def _date_and_time(seconds: int) -> str:
    # Formatting the date and time of day costs more than the rest of a line's fields: once a second.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def request_entry(hasher: Hasher, req: Request, token_entry: Any, error: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": rfc3339_nano(),
        "type": "request",
        "auth": _auth(hasher, req, token_entry),
        "request": _request(hasher, req, token_entry),
    }
    if error:
        entry["error"] = error
    return entry


def response_entry(
    hasher: Hasher, req: Request, token_entry: Any, response: Response | None, error: str = ""
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": rfc3339_nano(),
        "type": "response",
        "auth": _auth(hasher, req, token_entry),
        "request": _request(hasher, req, token_entry),
        "response": _response(hasher, req, response),
    }
    if error:
        entry["error"] = error
    return entry


def _auth(hasher: Hasher, req: Request, token_entry: Any) -> dict[str, Any]:
    if token_entry is None:
        return {"client_token": hasher.token(req.client_token or ""), "accessor": "", "token_ttl": 0}
    return {
        "client_token": hasher.token(req.client_token or ""),
        "accessor": hasher.accessor(token_entry.accessor),
        "display_name": token_entry.display_name,
        "policies": list(token_entry.policies),
        "token_policies": list(token_entry.policies),
        "metadata": dict(token_entry.meta or {}),
        "entity_id": token_entry.entity_id,
        "token_type": token_entry.type,
        "token_ttl": token_entry.ttl,
    }


def _request(hasher: Hasher, req: Request, token_entry: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": req.id,
        "operation": str(req.op),
        "mount_type": req.mount_type,
        "mount_accessor": req.mount_accessor,
        "client_token": hasher.token(req.client_token or ""),
        "client_token_accessor": hasher.accessor(token_entry.accessor if token_entry is not None else ""),
        "namespace": {"id": "root"},
        "path": req.path,
        "data": hasher.structure(req.data) if req.data else None,
        "remote_address": req.remote_address,
    }
    if req.wrap_ttl:
        body["wrap_ttl"] = req.wrap_ttl
    return body


def _response(hasher: Hasher, req: Request, response: Response | None) -> dict[str, Any]:
    if response is None:
        return {"mount_type": req.mount_type}
    data = response.body if isinstance(response, RawResponse) else response.data
    body: dict[str, Any] = {"mount_type": req.mount_type, "mount_accessor": req.mount_accessor}
    if response.auth is not None:
        body["auth"] = _response_auth(hasher, response.auth)
    if response.lease_id:
        body["secret"] = {"lease_id": response.lease_id}
    if response.wrap_info is not None:
        info = response.wrap_info
        body["wrap_info"] = {
            "token": hasher.value(info.token),
            "accessor": hasher.accessor(info.accessor),
            "ttl": info.ttl,
            "creation_time": info.creation_time,
            "creation_path": info.creation_path,
            **({"wrapped_accessor": hasher.accessor(info.wrapped_accessor)} if info.wrapped_accessor else {}),
        }
    if data:
        body["data"] = hasher.structure(data)
    if response.warnings:
        body["warnings"] = list(response.warnings)
    return body


def _response_auth(hasher: Hasher, auth: dict[str, Any]) -> dict[str, Any]:
    """A login's auth block: the new token and accessor hashed, the rest as Vault logs it."""
    body = plain_structure(auth)
    body["client_token"] = hasher.value(str(auth.get("client_token") or ""))
    body["accessor"] = hasher.accessor(str(auth.get("accessor") or ""))
    return body
