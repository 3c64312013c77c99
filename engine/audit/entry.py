"""Vault's audit entry layout (audit/format.go, audit/types.go): what one request or response line
says, with its sensitive values hashed under the device's salt."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine.audit.hashing import hash_string, hash_structure, plain_structure
from engine.request import RawResponse, Request, Response


@dataclass(frozen=True)
class Hasher:
    """One device's view of what to hide: Vault's salt, hmac_accessor and log_raw."""

    salt: bytes = field(repr=False)
    hmac_accessor: bool = True
    log_raw: bool = False

    def value(self, text: str) -> str:
        return text if self.log_raw or not text else hash_string(self.salt, text)

    def accessor(self, text: str) -> str:
        return self.value(text) if self.hmac_accessor else text

    def structure(self, value: Any) -> Any:
        return plain_structure(value) if self.log_raw else hash_structure(self.salt, value)


def rfc3339_nano(ns: int | None = None) -> str:
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"


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
        return {"client_token": hasher.value(req.client_token or ""), "accessor": "", "token_ttl": 0}
    return {
        "client_token": hasher.value(req.client_token or ""),
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
        "client_token": hasher.value(req.client_token or ""),
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
