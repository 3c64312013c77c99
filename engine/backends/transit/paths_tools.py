"""hash/ and random/: transit's keyless tools."""

from __future__ import annotations

import re

from engine.backends.transit import b64
from engine.backends.transit.errors import TransitError
from engine.crypto import random_bytes
from engine.crypto import transit as crypto
from engine.framework import Field, FieldData, FieldType, Path
from engine.request import Op, Request, Response
from engine.storage.base import Storage

MAX_RANDOM_BYTES = 128 * 1024
SOURCES = ("", "platform", "seal", "all")
# The hash endpoint offers the SHA-2 and SHA-3 families (not SHA-1, which only signatures accept).
HASHES = tuple(name for name in sorted(crypto.HASH_ALGORITHMS) if name != "sha1")
_GO_ATOI = re.compile(r"[+-]?\d+")


def _encode(data: bytes, output: str) -> str:
    return data.hex() if output == "hex" else b64.encode(data)


class ToolPaths:
    def paths(self) -> list[Path]:
        return [
            Path(
                r"hash(?:/(?P<urlalgorithm>.+))?",
                operations={Op.UPDATE: self.hash},
                fields={
                    "input": Field(FieldType.STRING),
                    "algorithm": Field(FieldType.STRING, default="sha2-256"),
                    "format": Field(FieldType.STRING, default="hex"),
                },
                synopsis="Generate a hash sum for input data",
            ),
            Path(
                r"random(?:/(?P<source>[^/]+))?(?:/(?P<urlbytes>[^/]+))?",
                operations={Op.UPDATE: self.random},
                fields={
                    "bytes": Field(FieldType.INT, default=32),
                    "format": Field(FieldType.STRING, default="base64"),
                },
                synopsis="Generate random bytes",
            ),
        ]

    async def hash(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        encoded, given = data.get_ok("input")
        if not given:
            raise TransitError("input missing")
        output = data.get("format")
        algorithm = data.get("urlalgorithm") or data.get("algorithm")
        try:
            message = b64.decode(encoded)
        except b64.Base64Error as exc:
            raise TransitError(f"unable to decode input as base64: {exc}") from None
        if output not in ("hex", "base64"):
            raise TransitError(f'unsupported encoding format {output}; must be "hex" or "base64"')
        if algorithm not in HASHES:
            raise TransitError(f"unsupported algorithm {algorithm}")
        return Response(data={"sum": _encode(crypto.digest(algorithm, message), output)})

    async def random(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        """Vault's HandleRandomAPI: the URL may give a source, a byte count, or both."""
        source = data.get("source")  # parsed: a body may send these too, as any JSON value
        url_bytes = data.get("urlbytes")
        count = data.get("bytes")
        if source and not url_bytes and source not in SOURCES:
            source, url_bytes = "", source
        if url_bytes:
            if not _GO_ATOI.fullmatch(url_bytes):
                raise TransitError(
                    f'error parsing url-set byte count: strconv.Atoi: parsing "{url_bytes}": invalid syntax'
                )
            count = int(url_bytes)
        output = data.get("format")
        if count < 1:
            raise TransitError('"bytes" cannot be less than 1')
        if count > MAX_RANDOM_BYTES:
            raise TransitError(f'"bytes" should be less than {MAX_RANDOM_BYTES}')
        if output not in ("hex", "base64"):
            raise TransitError(f'unsupported encoding format "{output}"; must be "hex" or "base64"')
        if source not in SOURCES:
            raise TransitError(f'unsupported entropy source "{source}"; must be "platform" or "seal", or "all"')
        # Every source is the OS CSPRNG here: the seal's token is not asked for entropy.
        return Response(data={"random_bytes": _encode(random_bytes(count), output)})
