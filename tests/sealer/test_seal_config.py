"""The seal block's issue 4 keys: several tokens, `disabled` for a seal migration, break-glass and the
health check interval; and the seals the daemon builds from them."""

from __future__ import annotations

from typing import Any

import pytest

from sealer.config import (
    ConfigError,
    Pkcs11SealConfig,
    Pkcs11TokensConfig,
    ShamirSealConfig,
    parse_config,
)
from sealer.seals.factory import seal_setup
from sealer.seals.shamir import ShamirSeal
from sealer.seals.tokens import TokenSet

MEMORY = {"memory": {}}
LIB = "/usr/lib/softhsm/libsofthsm2.so"


def token(label: str, **extra: Any) -> dict[str, Any]:
    return {"lib": LIB, "token_label": label, "pin": "1234", **extra}


def config(seal: object) -> Any:
    return parse_config({"storage": MEMORY, "seal": seal}, {})


def error_of(seal: object) -> str:
    with pytest.raises(ConfigError) as info:
        config(seal)
    return str(info.value)


def test_a_list_of_tokens_with_priorities_and_names() -> None:
    parsed = config({"pkcs11": [token("a", priority=2), token("b", name="backup", priority=1), token("c")]})
    assert isinstance(parsed.seal, Pkcs11TokensConfig)
    assert [(t.display_name, t.priority) for t in parsed.seal.tokens] == [("a", 2), ("backup", 1), ("c", 3)]
    tokens = seal_setup(parsed).active
    assert isinstance(tokens, TokenSet)
    assert [t.name for t in tokens.tokens] == ["backup", "a", "c"]  # tried in priority order
    described = parsed.describe()["seal"]
    assert [t["name"] for t in described["tokens"]] == ["a", "backup", "c"]
    assert "1234" not in repr(described) and "1234" not in repr(parsed)


def test_the_single_mapping_form_is_unchanged() -> None:
    parsed = config({"pkcs11": token("a")})
    assert parsed.seal == Pkcs11SealConfig(lib=LIB, pin="1234", token_label="a")
    assert (parsed.seal_migrate_from, parsed.break_glass, parsed.seal_health_check_interval) == (None, False, 60.0)


def test_shamir_to_pkcs11_migration() -> None:
    parsed = config({"shamir": {"disabled": True}, "pkcs11": token("a")})
    assert isinstance(parsed.seal, Pkcs11SealConfig)
    assert parsed.seal_migrate_from == ShamirSealConfig()
    setup = seal_setup(parsed)
    assert isinstance(setup.active, TokenSet) and isinstance(setup.migrate_from, ShamirSeal)


@pytest.mark.parametrize("pkcs11", [token("a", disabled=True), [token("a", disabled=True), token("b", disabled=True)]])
def test_a_lone_disabled_pkcs11_block_migrates_to_shamir(pkcs11: object) -> None:
    parsed = config({"pkcs11": pkcs11})
    assert parsed.seal == ShamirSealConfig()
    assert parsed.seal_migrate_from is not None and parsed.seal_migrate_from.kind == "pkcs11"
    assert parsed.describe()["seal"]["migrate_from"]["type"] == "pkcs11"
    setup = seal_setup(parsed)
    assert isinstance(setup.active, ShamirSeal) and isinstance(setup.migrate_from, TokenSet)


def test_options() -> None:
    parsed = config({"pkcs11": token("a"), "break_glass": True, "health_check_interval": 2.5})
    assert (parsed.break_glass, parsed.seal_health_check_interval) == (True, 2.5)
    options = seal_setup(parsed).options
    assert (options.break_glass, options.health_check_interval) == (True, 2.5)
    assert parsed.describe()["seal"]["break_glass"] is True


@pytest.mark.parametrize(
    ("seal", "message"),
    [
        ({"pkcs11": [token("a"), token("a")]},
         "seal.pkcs11: token names must be unique; give each a distinct `name` (repeated: a)"),
        ({"pkcs11": [token("a", disabled=True), token("b")]},
         "seal.pkcs11: mark every token `disabled: true`, or none: a seal is migrated as a whole"),
        ({"pkcs11": []}, "seal.pkcs11: expected at least one token"),
        ({"pkcs11": [token("a", priority=0)]}, "seal.pkcs11[0].priority: must be 1 or more (1 is tried first), got 0"),
        ({"pkcs11": [{"lib": LIB, "pin": "1"}]}, "seal.pkcs11[0]: one of token_label or token_serial is required"),
        ({"shamir": {"disabled": True}}, "seal.shamir.disabled: the only seal is disabled: add the seal to migrate to"),
        ({"shamir": {"disabled": "yes"}, "pkcs11": token("a")},
         "seal.shamir.disabled: expected true or false, got 'yes'"),
        ({"shamir": {}, "break_glass": True},
         "seal.break_glass: applies to the pkcs11 seal only (it needs recovery shares)"),
        ({"pkcs11": token("a"), "health_check_interval": 0},
         "seal.health_check_interval: must be a positive number of seconds, got 0.0"),
        ({"pkcs11": token("a"), "break_glass": "on"}, "seal.break_glass: expected true or false, got 'on'"),
    ],
)
def test_errors(seal: object, message: str) -> None:
    assert error_of(seal) == message
