"""sign/, verify/ (signatures and HMACs) and hmac/."""

from __future__ import annotations

import json
from typing import Any

from engine.backends.transit import b64
from engine.backends.transit.batch import Outcome, decode_b64, string_items
from engine.backends.transit.errors import TransitError
from engine.backends.transit.keyring import MARSHALING, Keyring, SignOptions
from engine.backends.transit.paths_crypt import partial_code
from engine.backends.transit.paths_keys import NAME
from engine.backends.transit.policy import Policy
from engine.backends.transit.store import KeyStore
from engine.crypto import constant_time_equal
from engine.crypto import transit as crypto
from engine.errors import EngineError
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

_ALGORITHM = r"(?:/(?P<urlalgorithm>.+))?"
_HMAC_PREFIX = "vault:v"


def _go_quote(text: str) -> str:
    return json.dumps(text)


def _salt_length(text: str) -> int:
    """Vault's parseSaltLength: "auto" (0), "hash" (-1) or a number of bytes."""
    lowered = text.lower()
    if lowered == "auto":
        return crypto.SALT_LENGTH_AUTO
    if lowered == "hash":
        return crypto.SALT_LENGTH_EQUALS_HASH
    try:
        value = int(text)
    except ValueError:
        raise TransitError(f"salt length neither 'auto', 'hash', nor an int: {text}") from None
    if value < crypto.SALT_LENGTH_EQUALS_HASH:
        raise TransitError(f"salt length is invalid: {value}")
    return value


def _hash_name(data: FieldData) -> str:
    return data.get("urlalgorithm") or data.get("hash_algorithm") or data.get("algorithm")


def _sign_options(data: FieldData) -> SignOptions:
    algorithm = _hash_name(data)
    if algorithm not in crypto.HASH_ALGORITHMS:
        raise TransitError(f"invalid hash algorithm {_go_quote(algorithm)}")
    marshaling = data.get("marshaling_algorithm")
    if marshaling not in MARSHALING:
        raise TransitError(f"invalid marshaling type {_go_quote(marshaling)}")
    return SignOptions(
        hash_algorithm=algorithm,
        marshaling=marshaling,
        signature_algorithm=data.get("signature_algorithm"),
        salt_length=_salt_length(data.get("salt_length")),
    )


_SIGN_FIELDS = {
    "input": Field(FieldType.STRING),
    "context": Field(FieldType.STRING),
    "hash_algorithm": Field(FieldType.STRING, default="sha2-256"),
    "algorithm": Field(FieldType.STRING, default="sha2-256"),
    "prehashed": Field(FieldType.BOOL),
    "signature_algorithm": Field(FieldType.STRING),
    "marshaling_algorithm": Field(FieldType.STRING, default="asn1"),
    "salt_length": Field(FieldType.STRING, default="auto"),
    "partial_failure_response_code": Field(FieldType.INT),
}


class SignPaths:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def paths(self) -> list[Path]:
        return [
            Path(
                rf"sign/{NAME}{_ALGORITHM}",
                operations={Op.UPDATE: self.sign},
                fields={**_SIGN_FIELDS, "key_version": Field(FieldType.INT)},
                takes_arbitrary_input=True,
                synopsis="Generate a signature for input data using the named key",
            ),
            Path(
                rf"verify/{NAME}{_ALGORITHM}",
                operations={Op.UPDATE: self.verify},
                fields={**_SIGN_FIELDS, "signature": Field(FieldType.STRING), "hmac": Field(FieldType.STRING)},
                takes_arbitrary_input=True,
                synopsis="Verify a signature or HMAC for input data created using the named key",
            ),
            Path(
                rf"hmac/{NAME}{_ALGORITHM}",
                operations={Op.UPDATE: self.hmac},
                fields={
                    "input": Field(FieldType.STRING),
                    "algorithm": Field(FieldType.STRING, default="sha2-256"),
                    "key_version": Field(FieldType.INT),
                },
                takes_arbitrary_input=True,
                synopsis="Generate an HMAC for input data using the named key",
            ),
        ]

    async def _policy(self, storage: Storage, name: str) -> Policy:
        policy = await self.store.get(storage, name)
        if policy is None:
            raise TransitError("encryption key not found")
        return policy

    # -- sign -----------------------------------------------------------------------------------

    async def sign(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        options = _sign_options(data)
        prehashed = data.get("prehashed")
        policy = await self._policy(storage, data.get("name"))
        if not policy.type.signing_supported:
            raise TransitError(f"key type {policy.type} does not support signing")
        raw = data.raw.get("batch_input")
        batch = raw is not None
        items = string_items(raw) if batch else [{"input": data.get("input"), "context": data.get("context")}]
        keyring = self.store.keyring(policy)
        outcome = Outcome()
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                signature = await self._sign_item(keyring, item, data.get("key_version"), options, prehashed)
            except EngineError as exc:
                results.append({"error": outcome.failed(exc)})
                continue
            outcome.succeeded()
            result: dict[str, Any] = {"signature": signature.text, "key_version": signature.version}
            if signature.public_key:
                result["publickey"] = b64.encode(signature.public_key)
            results.append(result)
        if batch:
            for item, result in zip(items, results, strict=True):
                result["reference"] = item.get("reference", "")
            return outcome.respond(Response(data={"batch_results": results}), partial_code(data, batch))
        single = results[0]
        if "error" in single:
            raise outcome.single_error(single["error"])
        if "publickey" in single:
            single["public_key"] = single.pop("publickey")
        return Response(data=single)

    async def _sign_item(
        self, keyring: Keyring, item: dict[str, str], version: int, options: SignOptions, prehashed: bool
    ) -> Any:
        if "input" not in item:
            raise TransitError("missing input")
        message = _decode_input(item["input"])
        if keyring.policy.type.hashes_signature_input and not prehashed:
            message = crypto.digest(options.hash_algorithm, message)
        context = _decode_context(item.get("context", ""))
        return await keyring.sign(version, context, message, options)

    # -- verify ---------------------------------------------------------------------------------

    async def verify(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        raw = data.raw.get("batch_input")
        batch = raw is not None
        if batch:
            items = string_items(raw)
        else:
            item = {"input": data.get("input"), "context": data.get("context")}
            for kind in ("signature", "hmac"):
                value, given = data.get_ok(kind)
                if given:
                    item[kind] = value
            items = [item]
        has_signature = any("signature" in item for item in items)
        has_hmac = any("hmac" in item for item in items if "signature" not in item)
        missing = any("signature" not in item and "hmac" not in item for item in items)
        if not batch and "signature" in items[0] and "hmac" in items[0]:
            raise TransitError("provide one of 'signature' or 'hmac'")
        if not batch and not has_signature and not has_hmac:
            raise TransitError("neither a 'signature' nor an 'hmac' were given to verify")
        if has_signature and has_hmac:
            raise TransitError("elements of batch_input must all provide 'signature' or all provide 'hmac'")
        if missing and has_signature:
            raise TransitError("some elements of batch_input are missing 'signature'")
        if missing and has_hmac:
            raise TransitError("some elements of batch_input are missing 'hmac'")
        if missing:
            raise TransitError("no batch_input elements have 'signature' or 'hmac'")
        if has_hmac:
            return await self._verify_hmac(data, storage, items, batch)

        options = _sign_options(data)
        prehashed = data.get("prehashed")
        policy = await self._policy(storage, data.get("name"))
        if not policy.type.signing_supported:
            raise TransitError(f"key type {policy.type} does not support verification")
        keyring = self.store.keyring(policy)
        outcome = Outcome()
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                valid = self._verify_item(keyring, item, options, prehashed)
            except EngineError as exc:
                results.append({"valid": False, "error": outcome.failed(exc)})
                continue
            outcome.succeeded()
            results.append({"valid": valid})
        return self._verified(items, results, batch, outcome, data)

    def _verify_item(self, keyring: Keyring, item: dict[str, str], options: SignOptions, prehashed: bool) -> bool:
        if "input" not in item:
            raise TransitError("missing input")
        message = _decode_input(item["input"])
        if "signature" not in item:
            raise TransitError("missing signature")
        if keyring.policy.type.hashes_signature_input and not prehashed:
            message = crypto.digest(options.hash_algorithm, message)
        context = _decode_context(item.get("context", ""))
        return keyring.verify(context, message, item["signature"], options)

    def _verified(
        self, items: list[dict[str, str]], results: list[dict[str, Any]], batch: bool, outcome: Outcome,
        data: FieldData, *, status_from_items: bool = True,
    ) -> Response:  # fmt: skip
        if batch:
            for item, result in zip(items, results, strict=True):
                result["reference"] = item.get("reference", "")
            response = Response(data={"batch_results": results})
            return outcome.respond(response, partial_code(data, batch)) if status_from_items else response
        if "error" in results[0]:
            raise outcome.single_error(results[0]["error"])
        return Response(data={"valid": results[0]["valid"]})

    # -- HMAC -----------------------------------------------------------------------------------

    async def hmac(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        policy = await self._policy(storage, data.get("name"))
        version = data.get("key_version")
        too_old = policy.min_encryption_version > 0 and version < policy.min_encryption_version
        if version == 0:
            version = policy.latest_version
        elif version != policy.latest_version and too_old:
            raise TransitError("cannot generate HMAC: version is too old (disallowed by policy)")
        key = self.store.keyring(policy).hmac_key(version)
        algorithm = data.get("urlalgorithm") or data.get("algorithm")
        if algorithm not in crypto.HASH_ALGORITHMS:
            raise TransitError(f"unsupported algorithm {_go_quote(algorithm)}")
        raw = data.raw.get("batch_input")
        batch = raw is not None
        if batch:
            items = string_items(raw)
        else:
            value, given = data.get_ok("input")
            if not given:
                raise TransitError("missing input for HMAC")
            items = [{"input": value}]
        outcome = Outcome()
        results: list[dict[str, Any]] = []
        for item in items:
            if "input" not in item:
                results.append({"valid": False, "error": outcome.failed(TransitError("missing input for HMAC"))})
                continue
            try:
                message = _decode_input(item["input"])
            except TransitError as exc:
                results.append({"valid": False, "error": outcome.failed(exc)})
                continue
            mac = crypto.hmac_digest(algorithm, key, message)
            results.append({"hmac": f"{_HMAC_PREFIX}{version}:{b64.encode(mac)}", "valid": False})
        if batch:
            for item, result in zip(items, results, strict=True):
                result["reference"] = item.get("reference", "")
            # Vault answers HMAC batches with 200 whatever their items did.
            return Response(data={"batch_results": results})
        if "error" in results[0]:
            raise outcome.single_error(results[0]["error"])
        return Response(data={"hmac": results[0]["hmac"]})

    async def _verify_hmac(
        self, data: FieldData, storage: Storage, items: list[dict[str, str]], batch: bool
    ) -> Response:
        algorithm = data.get("urlalgorithm")
        if not algorithm:
            given_hash, has_hash = data.get_ok("hash_algorithm")
            given_alg, has_alg = data.get_ok("algorithm")
            algorithm = given_hash if has_hash else given_alg if has_alg else data.get("hash_algorithm")
        policy = await self._policy(storage, data.get("name"))
        if algorithm not in crypto.HASH_ALGORITHMS:
            raise TransitError(f"unsupported algorithm {_go_quote(algorithm)}")
        keyring = self.store.keyring(policy)
        outcome = Outcome()
        results: list[dict[str, Any]] = []
        for item in items:
            try:
                valid = _verify_hmac_item(keyring, item, algorithm)
            except EngineError as exc:
                results.append({"valid": False, "error": outcome.failed(exc)})
                continue
            outcome.succeeded()
            results.append({"valid": valid})
        return self._verified(items, results, batch, outcome, data, status_from_items=False)


def _verify_hmac_item(keyring: Keyring, item: dict[str, str], algorithm: str) -> bool:
    policy = keyring.policy
    if "input" not in item:
        raise TransitError("missing input")
    message = _decode_input(item["input"])
    if "hmac" not in item:
        raise TransitError("missing hmac")
    given = item["hmac"]
    if not given.startswith(_HMAC_PREFIX):
        raise TransitError("invalid HMAC to verify: no prefix")
    version_text, sep, body = given[len(_HMAC_PREFIX) :].partition(":")
    if not sep:
        raise TransitError("invalid HMAC: wrong number of fields")
    try:
        version = int(version_text)
    except ValueError:
        raise TransitError("invalid HMAC: version number could not be decoded") from None
    try:
        expected = b64.decode(body)
    except b64.Base64Error as exc:
        raise TransitError(f"unable to decode verification HMAC as base64: {exc}") from None
    if version > policy.latest_version:
        raise TransitError("invalid HMAC: version is too new")
    if policy.min_decryption_version > 0 and version < policy.min_decryption_version:
        raise TransitError("cannot verify HMAC: version is too old (disallowed by policy)")
    key = keyring.hmac_key(version)
    return constant_time_equal(crypto.hmac_digest(algorithm, key, message), expected)


def _decode_input(text: str) -> bytes:
    try:
        return b64.decode(text)
    except b64.Base64Error as exc:
        raise TransitError(f"unable to decode input as base64: {exc}") from None


def _decode_context(text: str) -> bytes:
    if not text:
        return b""
    try:
        return decode_b64(text)
    except TransitError:
        raise TransitError("failed to base64-decode context") from None
