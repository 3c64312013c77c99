"""Seals from the configuration: the seal in force, the one being migrated away from, and the options."""

from __future__ import annotations

from dataclasses import dataclass

from hsm import Pkcs11Settings
from hsm.tpm2 import Tpm2Settings, parse_pcrs
from sealer.config import Config, Pkcs11SealConfig, Pkcs11TokensConfig, SealConfig, Tpm2SealConfig
from sealer.seals.base import Seal, SealOptions
from sealer.seals.pkcs11 import Pkcs11Seal
from sealer.seals.shamir import ShamirSeal
from sealer.seals.tokens import TokenSet
from sealer.seals.tpm2 import Tpm2Device, Tpm2Seal


@dataclass(frozen=True)
class SealSetup:
    active: Seal
    migrate_from: Seal | None
    options: SealOptions

    async def close(self) -> None:
        await self.active.close()
        if self.migrate_from is not None:
            await self.migrate_from.close()


def seal_setup(config: Config) -> SealSetup:
    return SealSetup(
        active=make_seal(config.seal),
        migrate_from=None if config.seal_migrate_from is None else make_seal(config.seal_migrate_from),
        options=SealOptions(break_glass=config.break_glass,
                            health_check_interval=config.seal_health_check_interval),
    )


def make_seal(config: SealConfig) -> Seal:
    if isinstance(config, Pkcs11SealConfig):
        return TokenSet([_token(config)])
    if isinstance(config, Pkcs11TokensConfig):
        return TokenSet([_token(token) for token in config.tokens])
    if isinstance(config, Tpm2SealConfig):
        pcrs = None if config.pcrs is None else parse_pcrs(config.pcrs)
        return Tpm2Seal(Tpm2Device(Tpm2Settings(tcti=config.tcti), pcrs))
    return ShamirSeal()


def _token(config: Pkcs11SealConfig) -> Pkcs11Seal:
    settings = Pkcs11Settings(
        lib=config.lib,
        pin=config.pin,
        token_label=config.token_label,
        token_serial=config.token_serial,
        key_label=config.key_label,
        hmac_key_label=config.hmac_key_label,
        generate_key=config.generate_key,
        mechanism=config.mechanism,
        call_timeout=config.call_timeout,
    )
    return Pkcs11Seal(settings, name=config.display_name, priority=config.priority)
