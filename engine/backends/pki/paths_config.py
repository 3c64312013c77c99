"""config/urls: the addresses embedded in certificates issued from now on (AIA issuing certificates and
OCSP servers, CRL distribution points); config/crl: the CRL's expiry, and whether it lists revocations."""

from __future__ import annotations

import json

from engine.backends.pki.context import URLS_KEY, Pki, Urls, load_urls
from engine.backends.pki.crl_config import CrlConfig, load_crl_config, save_crl_config
from engine.backends.pki.issuer import load_issuer
from engine.errors import BadRequest
from engine.framework import Field, FieldData, FieldType, Path, parse_duration
from engine.request import Op, Request, Response
from engine.storage.base import Storage

URL_FIELDS = ("issuing_certificates", "crl_distribution_points", "ocsp_servers")


class ConfigPaths:
    def __init__(self, pki: Pki) -> None:
        self.pki = pki

    def paths(self) -> list[Path]:
        return [
            Path(
                r"config/crl",
                operations={Op.READ: self.read_crl, Op.UPDATE: self.write_crl},
                fields={"expiry": Field(FieldType.STRING), "disable": Field(FieldType.BOOL)},
                synopsis="Configure the CRL expiration.",
            ),
            Path(
                r"config/urls",
                operations={Op.READ: self.read, Op.UPDATE: self.write},
                fields={name: Field(FieldType.LIST) for name in URL_FIELDS},
                synopsis="Set the URLs for the issuing CA, CRL distribution points, and OCSP servers.",
            ),
        ]

    async def read(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=(await load_urls(storage)).to_json())

    async def write(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        current = await load_urls(storage)
        values = {}
        for name in URL_FIELDS:
            value, given = data.get_ok(name)
            for url in value if given else []:
                if "://" not in url:
                    raise BadRequest(f"invalid URL in {name}: {url!r}")
            values[name] = tuple(value) if given else getattr(current, name)
        urls = Urls(**values)
        await storage.put(URLS_KEY, json.dumps(urls.to_json()).encode())
        return None

    async def read_crl(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        return Response(data=(await load_crl_config(storage)).to_json())

    async def write_crl(self, req: Request, data: FieldData, storage: Storage) -> Response | None:
        current = await load_crl_config(storage)
        expiry, expiry_given = data.get_ok("expiry")
        disable, disable_given = data.get_ok("disable")
        if expiry_given:
            try:
                parse_duration(expiry)
            except ValueError:
                raise BadRequest(f'given expiry could not be decoded: time: invalid duration "{expiry}"') from None
        config = CrlConfig(
            expiry=expiry if expiry_given else current.expiry,
            disable=disable if disable_given else current.disable,
        )
        await save_crl_config(storage, config)
        issuer = await load_issuer(storage)
        if issuer is not None:
            await self.pki.revoker.rebuild(storage, issuer)
        return None
