"""Sealer's configuration file: YAML, validated strictly.

Every key, with its default::

    listener:
      address: "127.0.0.1:8200"          # host:port, or [v6]:port
      tls_cert_file: /etc/sealer/tls.crt   # both TLS files or neither
      tls_key_file: /etc/sealer/tls.key
      max_request_size: 33554432         # bytes (Vault's default, 32 MiB); 0: the default; < 0: no cap
      max_concurrent_requests: 512       # beyond it a request is refused at once with a 503
      unauthenticated_metrics_access: false  # true: sys/metrics needs no token (Vault's listener telemetry)
      http_read_timeout: 30              # seconds a client may take to send a request body; then 408, closed
      http_idle_timeout: 300             # seconds a connection may sit without a complete request; then closed
    storage:                             # required: exactly one backend
      sqlite:
        path: /var/lib/sealer/sealer.db
      # memory: {}                       # nothing survives a restart
      # postgresql:                      # several daemons sharing one database
      #   connection_url: postgres://sealer:...@db.example.com:5432/sealer  # or SEALER_PG_CONNECTION_URL
      #   table: sealer_store
      #   max_connections: 8
      #   ha_enabled: false              # several daemons: one active, the others standbys
      #   ha_table: sealer_ha_nodes
    seal:                                # optional: no block means `shamir: {}`
      pkcs11:                            # one token (a mapping), or several (a list of mappings)
        lib: /usr/lib/softhsm/libsofthsm2.so
        token_label: sealer              # or token_serial: "..." (exactly one)
        pin_file: /run/secrets/hsm-pin   # or pin: "...", or SEALER_HSM_PIN in the environment
        key_label: sealer-root-wrap
        hmac_key_label: sealer-hmac
        generate_key: false
        mechanism: aes-gcm               # or rsa-oaep: a token without AES-GCM (a TPM through tpm2-pkcs11)
        call_timeout: 10                 # seconds one token call may take (a hung token fails, not the daemon)
        name: primary                    # default: the token label (or serial-<serial>); must be unique
        priority: 1                      # lower first; default: the position in the list
        disabled: false                  # true: the seal being migrated away from (see below)
      # shamir: {}                       # or {disabled: true}
      # tpm2:                            # or: the machine's TPM 2.0 (needs the `tpm` extra, tpm2-pytss)
      #   tcti: "device:/dev/tpmrm0"     # or "swtpm:host=127.0.0.1,port=2321", "tabrmd:"
      #   pcrs: "sha256:0,7"             # optional PCR policy: unseals only in this boot state
      break_glass: false                 # pkcs11: keep the root key also under the recovery key (tpm2: always)
      health_check_interval: 60          # seconds between checks of every token while unsealed
    api_addr: https://sealer.example.com:8200   # how other nodes and clients reach this one (HA)
    request_forwarding: true             # HA standbys forward requests to the active; false: a 307 to it
    log_level: info                      # trace, debug, info, warn, warning, error
    auto_init:                           # unattended first start
      secret_shares: 5
      secret_threshold: 3
      output_file: init.json             # "" prints the secrets without writing a file

Unknown keys and wrong types are refused with a `ConfigError` that names the key path
(``storage.sqlite.path: expected a string, got 5``). A key given with no value (``memory:``) is the
same as an empty mapping. Relative paths (sqlite path, TLS files, output_file) are kept as written and,
as in Vault, resolved against the daemon's current directory; the only file read while parsing is
``pin_file``.

Several tokens: ``pkcs11:`` takes a list; the root key is wrapped under every token and the daemon
unseals through the first (by priority) that answers. Seal migration (as Vault): keep the old seal's
block marked ``disabled: true`` next to the new one (shamir needs no block: the store says it is
shamir-sealed; a lone disabled pkcs11 block migrates to shamir). Both kinds enabled is an error.

The HSM PIN comes from ``pin:`` in the file, else the ``SEALER_HSM_PIN`` environment variable, else
the contents of ``pin_file:`` (trailing newline stripped). Giving both ``pin`` and ``pin_file`` is an
error, so a file never silently overrides a PIN written next to it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import yaml

from hsm.settings import MECHANISMS
from hsm.tpm2.pcrs import parse_pcrs

__all__ = [
    "DEFAULT_ADDRESS",
    "PIN_ENV",
    "AutoInitConfig",
    "Config",
    "ConfigError",
    "DevOptions",
    "ListenerConfig",
    "MemoryStorageConfig",
    "Pkcs11SealConfig",
    "Pkcs11TokensConfig",
    "PostgresStorageConfig",
    "SealConfig",
    "ShamirSealConfig",
    "SqliteStorageConfig",
    "StorageConfig",
    "Tpm2SealConfig",
    "load_config",
    "parse_config",
    "split_address",
]

PIN_ENV = "SEALER_HSM_PIN"
DEFAULT_ADDRESS = "127.0.0.1:8200"
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error")
MAX_SHARES = 255


class ConfigError(ValueError):
    """A configuration that cannot be used. `path` is the dotted key path ("" for the file itself)."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# ---------------------------------------------------------------------------------------------------
# The configuration objects


# Vault's default max_request_size (32 MiB), and a bound on requests in progress at once.
DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024
DEFAULT_MAX_CONCURRENT_REQUESTS = 512


@dataclass(frozen=True)
class ListenerConfig:
    address: str = DEFAULT_ADDRESS
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    unauthenticated_metrics_access: bool = False
    http_read_timeout: float = 30.0  # seconds a client may take to send its request body (as Vault)
    http_idle_timeout: float = 300.0  # seconds a connection may wait without a whole request (Vault's 5m)

    @property
    def host(self) -> str:
        """The host without IPv6 brackets, ready for bind()."""
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None


@dataclass(frozen=True)
class SqliteStorageConfig:
    kind: ClassVar[str] = "sqlite"
    path: str


@dataclass(frozen=True)
class MemoryStorageConfig:
    kind: ClassVar[str] = "memory"


@dataclass(frozen=True)
class PostgresStorageConfig:
    kind: ClassVar[str] = "postgresql"
    connection_url: str = field(repr=False)  # holds the database password
    table: str = "sealer_store"
    max_connections: int = 8
    ha_enabled: bool = False
    ha_table: str = "sealer_ha_nodes"


@dataclass(frozen=True)
class Pkcs11SealConfig:
    kind: ClassVar[str] = "pkcs11"
    lib: str
    pin: str = field(repr=False)
    token_label: str | None = None
    token_serial: str | None = None
    key_label: str = "sealer-root-wrap"
    hmac_key_label: str = "sealer-hmac"
    generate_key: bool = False
    priority: int = 1
    name: str = ""  # "" means: named after the token (see display_name)
    mechanism: str = "aes-gcm"  # or "rsa-oaep" (tpm2-pkcs11: no AES-GCM); key_label then names an RSA key pair
    call_timeout: float = 10.0  # seconds for one token call, so a hung token cannot hold a request forever

    @property
    def display_name(self) -> str:
        return self.name or self.token_label or f"serial-{self.token_serial}"

    def describe(self) -> dict[str, Any]:
        return {
            "lib": self.lib,
            "token_label": self.token_label,
            "token_serial": self.token_serial,
            "key_label": self.key_label,
            "hmac_key_label": self.hmac_key_label,
            "generate_key": self.generate_key,
            "mechanism": self.mechanism,
        }


@dataclass(frozen=True)
class Pkcs11TokensConfig:
    """The pkcs11 seal over several tokens (`pkcs11:` given as a list)."""

    kind: ClassVar[str] = "pkcs11"
    tokens: tuple[Pkcs11SealConfig, ...]

    def describe(self) -> dict[str, Any]:
        return {"tokens": [{"name": token.display_name, "priority": token.priority, **token.describe()}
                           for token in self.tokens]}


@dataclass(frozen=True)
class Tpm2SealConfig:
    """The tpm2 seal: the root key sealed to the machine's TPM, optionally under a PCR policy."""

    kind: ClassVar[str] = "tpm2"
    tcti: str = "device:/dev/tpmrm0"
    pcrs: str | None = None  # canonical tpm2-tools syntax ("sha256:0,7"); None: any boot state

    def describe(self) -> dict[str, Any]:
        return {"tcti": self.tcti, "pcrs": self.pcrs}


@dataclass(frozen=True)
class ShamirSealConfig:
    kind: ClassVar[str] = "shamir"

    def describe(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class AutoInitConfig:
    """Initialise an empty store at first start. With the shamir seal the shares are unseal keys;
    with the pkcs11 seal they are recovery keys."""

    secret_shares: int = 5
    secret_threshold: int = 3
    output_file: str = "init.json"


StorageConfig = SqliteStorageConfig | MemoryStorageConfig | PostgresStorageConfig
SealConfig = Pkcs11SealConfig | Pkcs11TokensConfig | ShamirSealConfig | Tpm2SealConfig
DEFAULT_HEALTH_CHECK_INTERVAL = 60.0


@dataclass(frozen=True)
class Config:
    listener: ListenerConfig
    storage: StorageConfig
    seal: SealConfig
    api_addr: str | None = None
    request_forwarding: bool = True
    log_level: str = "info"
    auto_init: AutoInitConfig | None = None
    # The seal block marked `disabled: true`: the seal to migrate away from (Vault's seal migration).
    seal_migrate_from: SealConfig | None = None
    break_glass: bool = False
    seal_health_check_interval: float = DEFAULT_HEALTH_CHECK_INTERVAL

    def describe(self) -> dict[str, Any]:
        """The configuration for a start-up log line. Secrets (the PIN) are left out, not masked."""
        seal: dict[str, Any] = {"type": self.seal.kind, **self.seal.describe()}
        if self.seal_migrate_from is not None:
            seal["migrate_from"] = {"type": self.seal_migrate_from.kind, **self.seal_migrate_from.describe()}
        if self.break_glass:
            seal["break_glass"] = True
        if self.seal_health_check_interval != DEFAULT_HEALTH_CHECK_INTERVAL:
            seal["health_check_interval"] = self.seal_health_check_interval
        storage: dict[str, Any] = {"type": self.storage.kind}
        if isinstance(self.storage, SqliteStorageConfig):
            storage["path"] = self.storage.path
        if isinstance(self.storage, PostgresStorageConfig):
            storage.update(table=self.storage.table, max_connections=self.storage.max_connections)
            if self.storage.ha_enabled:
                storage.update(ha_enabled=True, ha_table=self.storage.ha_table)
        return {
            "listener": {
                "address": self.listener.address,
                "tls_cert_file": self.listener.tls_cert_file,
                "tls_key_file": self.listener.tls_key_file,
            },
            "storage": storage,
            "seal": seal,
            "api_addr": self.api_addr,
            "log_level": self.log_level,
            "auto_init": None
            if self.auto_init is None
            else {
                "secret_shares": self.auto_init.secret_shares,
                "secret_threshold": self.auto_init.secret_threshold,
                "output_file": self.auto_init.output_file,
            },
        }


@dataclass(frozen=True)
class DevOptions:
    """`sealer server --dev`: no config file, a private token, initialised and unsealed at start."""

    listen_address: str = DEFAULT_ADDRESS
    root_token_id: str | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------------
# Addresses

_PORT = re.compile(r"[0-9]{1,5}")


def split_address(address: str) -> tuple[str, int]:
    """Split "host:port" or "[v6]:port" into (host without brackets, port). Raises ValueError whose
    message says what is wrong."""
    if "://" in address:
        raise ValueError(f"expected host:port without a scheme, got {address!r}")
    host, sep, port_text = address.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {address!r}")
    if host.startswith("[") or host.endswith("]"):
        inner = host.removeprefix("[").removesuffix("]")
        if not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"unbalanced brackets in {address!r}")
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f"{inner!r} in brackets is not an IPv6 address") from None
        host = inner
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, e.g. [::1]:8200, got {address!r}")
    elif any(ch.isspace() or ch in "/[]@" for ch in host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise ValueError(f"port must be a number from 0 to 65535, got {port_text!r}")
    return host, int(port_text)


# ---------------------------------------------------------------------------------------------------
# Loading


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses duplicate keys: YAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base constructor reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the YAML file at `path` (see the module docstring for the keys)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_StrictLoader)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_config(data, environ)


def parse_config(
    data: object, environ: Mapping[str, str] | None = None, *, base_dir: Path | None = None
) -> Config:
    """Validate already-parsed YAML. `environ` defaults to os.environ (for SEALER_HSM_PIN);
    `base_dir` is where a relative pin_file is read from (default: the current directory)."""
    environ = os.environ if environ is None else environ
    root = _Section(
        data, "", ("listener", "storage", "seal", "api_addr", "request_forwarding", "log_level", "auto_init"),
        top=True,
    )
    seal = _seal(root, environ, base_dir)
    return Config(
        listener=_listener(root.section("listener")),
        storage=_storage(root, environ),
        seal=seal.active,
        api_addr=_api_addr(root),
        request_forwarding=root.boolean("request_forwarding", default=True),
        log_level=_log_level(root),
        auto_init=_auto_init(root),
        seal_migrate_from=seal.migrate_from,
        break_glass=seal.break_glass,
        seal_health_check_interval=seal.health_check_interval,
    )


def _listener(sec: _Section) -> ListenerConfig:
    address = sec.string("address", default=DEFAULT_ADDRESS)
    assert address is not None
    try:
        split_address(address)
    except ValueError as exc:
        raise ConfigError(str(exc), sec.child("address")) from None
    cert = sec.string("tls_cert_file")
    key = sec.string("tls_key_file")
    if cert is not None and key is None:
        raise ConfigError("required when tls_cert_file is set", sec.child("tls_key_file"))
    if key is not None and cert is None:
        raise ConfigError("required when tls_key_file is set", sec.child("tls_cert_file"))
    # As Vault: 0 means the default, a negative size turns the cap off.
    max_request_size = sec.integer("max_request_size", default=DEFAULT_MAX_REQUEST_SIZE) or DEFAULT_MAX_REQUEST_SIZE
    concurrent = sec.integer("max_concurrent_requests", default=DEFAULT_MAX_CONCURRENT_REQUESTS)
    if concurrent < 1:
        raise ConfigError("must be at least 1", sec.child("max_concurrent_requests"))
    return ListenerConfig(
        address=address, tls_cert_file=cert, tls_key_file=key, max_request_size=max_request_size,
        max_concurrent_requests=concurrent,
        unauthenticated_metrics_access=sec.boolean("unauthenticated_metrics_access", default=False),
        http_read_timeout=_positive_seconds(sec, "http_read_timeout", 30.0),
        http_idle_timeout=_positive_seconds(sec, "http_idle_timeout", 300.0),
    )


def _storage(root: _Section, environ: Mapping[str, str]) -> StorageConfig:
    kind, sec = root.one_of("storage", ("sqlite", "memory", "postgresql"), default=None)
    if kind == "sqlite":
        path = sec.string("path", required=True)
        assert path is not None
        return SqliteStorageConfig(path=path)
    if kind == "postgresql":
        return _postgresql(sec, environ)
    return MemoryStorageConfig()


def _postgresql(sec: _Section, environ: Mapping[str, str]) -> PostgresStorageConfig:
    # As Vault's VAULT_PG_CONNECTION_URL: the URL (with its password) may stay out of the file.
    url = sec.string("connection_url") or environ.get("SEALER_PG_CONNECTION_URL")
    if not url:
        raise ConfigError("required (or set SEALER_PG_CONNECTION_URL)", sec.child("connection_url"))
    if not url.startswith(("postgres://", "postgresql://")):
        raise ConfigError("expected a postgres:// or postgresql:// URL", sec.child("connection_url"))
    table = sec.string("table", default="sealer_store")
    assert table is not None
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", table):
        raise ConfigError("use lower-case letters, digits and '_' (at most 63)", sec.child("table"))
    max_connections = sec.integer("max_connections", default=8)
    if max_connections < 1:
        raise ConfigError("must be at least 1", sec.child("max_connections"))
    ha_table = sec.string("ha_table", default="sealer_ha_nodes")
    assert ha_table is not None
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", ha_table) or ha_table == table:
        raise ConfigError("use lower-case letters, digits and '_' (at most 63), not the storage table",
                          sec.child("ha_table"))
    return PostgresStorageConfig(connection_url=url, table=table, max_connections=max_connections,
                                 ha_enabled=sec.boolean("ha_enabled", default=False), ha_table=ha_table)


@dataclass(frozen=True)
class _SealBlock:
    active: SealConfig
    migrate_from: SealConfig | None
    break_glass: bool
    health_check_interval: float


_SEAL_KINDS = ("pkcs11", "shamir", "tpm2")
_SEAL_OPTIONS = ("break_glass", "health_check_interval")


def _seal(root: _Section, environ: Mapping[str, str], base_dir: Path | None) -> _SealBlock:
    if not root.present("seal"):
        return _SealBlock(ShamirSealConfig(), None, False, DEFAULT_HEALTH_CHECK_INTERVAL)
    raw = root.raw("seal")
    # The options sit next to the kinds; the kinds alone are checked as a one-of block.
    kinds_only = {k: v for k, v in raw.items() if k not in _SEAL_OPTIONS} if isinstance(raw, dict) else raw
    options = _Section({k: v for k, v in raw.items() if k in _SEAL_OPTIONS} if isinstance(raw, dict) else {},
                       "seal", _SEAL_OPTIONS)
    outer = _Section(kinds_only, "seal", _SEAL_KINDS)
    given = [kind for kind in _SEAL_KINDS if outer.present(kind)]
    if not given:
        raise ConfigError(f"required (one of: {', '.join(_SEAL_KINDS)})", "seal")
    disabled = {kind: _disabled(outer.raw(kind), f"seal.{kind}") for kind in given}
    enabled = [kind for kind in given if not disabled[kind]]
    if len(enabled) > 1:
        raise ConfigError(f"give exactly one of {', '.join(_SEAL_KINDS)}; got {' and '.join(given)}", "seal")
    if not enabled and given == ["shamir"]:
        raise ConfigError("the only seal is disabled: add the seal to migrate to", "seal.shamir.disabled")
    if "tpm2" in given and len(given) > 1:
        raise ConfigError("seal migration to or from the tpm2 seal is not supported: give the tpm2 block alone",
                          "seal")
    parsed = {kind: _seal_kind(outer, kind, environ, base_dir) for kind in given}
    # A lone disabled pkcs11 block is Vault's migration back to shamir, which needs no block.
    active = parsed[enabled[0]] if enabled else ShamirSealConfig()
    migrate_from = next((parsed[kind] for kind in given if disabled[kind]), None)
    break_glass = options.boolean("break_glass", default=active.kind == "tpm2")
    if active.kind == "tpm2" and not break_glass:
        # A PCR change (a kernel update) must not lose the store: the recovery shares re-seal (tpm-reseal).
        raise ConfigError("the tpm2 seal always keeps the root key under the recovery key too, so that recovery "
                          "shares can re-seal it after a PCR change; remove `break_glass: false`",
                          "seal.break_glass")
    if break_glass and active.kind not in ("pkcs11", "tpm2"):
        raise ConfigError("applies to the pkcs11 seal only (it needs recovery shares)", "seal.break_glass")
    interval = options.number("health_check_interval", default=DEFAULT_HEALTH_CHECK_INTERVAL)
    if interval <= 0:
        raise ConfigError(f"must be a positive number of seconds, got {interval}", "seal.health_check_interval")
    return _SealBlock(active, migrate_from, break_glass, interval)


def _disabled(block: object, path: str) -> bool:
    """The `disabled` flag of a seal block (in every entry of a list, where they must agree)."""
    entries = block if isinstance(block, list) else [block]
    flags = {entry.get("disabled", False) if isinstance(entry, dict) else False for entry in entries}
    if len(flags) > 1:
        raise ConfigError("mark every token `disabled: true`, or none: a seal is migrated as a whole", path)
    flag = flags.pop() if flags else False
    if not isinstance(flag, bool):
        raise ConfigError(f"expected true or false, got {_shown(flag)}", f"{path}.disabled")
    return flag


def _seal_kind(outer: _Section, kind: str, environ: Mapping[str, str], base_dir: Path | None) -> SealConfig:
    if kind == "shamir":
        outer.section("shamir", ("disabled",))
        return ShamirSealConfig()
    if kind == "tpm2":
        return _tpm2(outer.section("tpm2"))
    block = outer.raw("pkcs11")
    if not isinstance(block, list):
        return _pkcs11(outer.section("pkcs11"), environ, base_dir)
    if not block:
        raise ConfigError("expected at least one token", "seal.pkcs11")
    tokens = []
    for index, entry in enumerate(block):
        sec = _Section(entry, f"seal.pkcs11[{index}]", _KEYS["seal.pkcs11"])
        tokens.append(_pkcs11(sec, environ, base_dir, position=index + 1))
    names = [token.display_name for token in tokens]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"token names must be unique; give each a distinct `name` (repeated: "
                          f"{', '.join(duplicates)})", "seal.pkcs11")
    return Pkcs11TokensConfig(tokens=tuple(tokens))


_QUOTE_HINT = "; quote it, as YAML reads unquoted digits as a number"


def _pkcs11(sec: _Section, environ: Mapping[str, str], base_dir: Path | None, *,
            position: int = 1) -> Pkcs11SealConfig:
    lib = sec.string("lib", required=True)
    token_label = sec.string("token_label")
    token_serial = sec.string("token_serial", hint=_QUOTE_HINT)
    if token_label is not None and token_serial is not None:
        raise ConfigError("give token_label or token_serial, not both", sec.path)
    if token_label is None and token_serial is None:
        raise ConfigError("one of token_label or token_serial is required", sec.path)
    key_label = sec.string("key_label", default="sealer-root-wrap")
    hmac_key_label = sec.string("hmac_key_label", default="sealer-hmac")
    assert lib is not None and key_label is not None and hmac_key_label is not None
    return Pkcs11SealConfig(
        lib=lib,
        pin=_pin(sec, environ, base_dir),
        token_label=token_label,
        token_serial=token_serial,
        key_label=key_label,
        hmac_key_label=hmac_key_label,
        generate_key=sec.boolean("generate_key", default=False),
        priority=_priority(sec, position),
        name=sec.string("name", default="") or "",
        mechanism=_mechanism(sec),
        call_timeout=_positive_seconds(sec, "call_timeout", 10.0),
    )


def _positive_seconds(sec: _Section, key: str, default: float) -> float:
    seconds = sec.number(key, default=default)
    if seconds <= 0:
        raise ConfigError(f"must be a positive number of seconds, got {seconds:g}", sec.child(key))
    return seconds


def _mechanism(sec: _Section) -> str:
    mechanism = sec.string("mechanism", default="aes-gcm")
    if mechanism not in MECHANISMS:
        raise ConfigError(f"expected one of {', '.join(MECHANISMS)} (rsa-oaep for a TPM through tpm2-pkcs11); "
                          f"got {mechanism!r}", sec.child("mechanism"))
    return mechanism


def _tpm2(sec: _Section) -> Tpm2SealConfig:
    tcti = sec.string("tcti", default="device:/dev/tpmrm0")
    assert tcti is not None
    if ":" not in tcti:
        raise ConfigError(f"expected NAME:CONFIG as tpm2-tools takes it (e.g. \"device:/dev/tpmrm0\"), got {tcti!r}",
                          sec.child("tcti"))
    pcrs = sec.string("pcrs")
    if pcrs is not None:
        try:
            pcrs = str(parse_pcrs(pcrs))
        except ValueError as exc:
            raise ConfigError(str(exc), sec.child("pcrs")) from None
    return Tpm2SealConfig(tcti=tcti, pcrs=pcrs)


def _priority(sec: _Section, default: int) -> int:
    priority = sec.integer("priority", default=default)
    if priority < 1:
        raise ConfigError(f"must be 1 or more (1 is tried first), got {priority}", sec.child("priority"))
    return priority


def _pin(sec: _Section, environ: Mapping[str, str], base_dir: Path | None) -> str:
    pin = sec.string("pin", secret=True, hint=_QUOTE_HINT)
    pin_file = sec.string("pin_file")
    if pin is not None and pin_file is not None:
        raise ConfigError("give pin or pin_file, not both", sec.path)
    if pin is not None:
        return pin
    if environ.get(PIN_ENV):  # an empty variable counts as unset
        return environ[PIN_ENV]
    if pin_file is None:
        raise ConfigError(
            f"required: set `pin:`, the {PIN_ENV} environment variable, or `pin_file:`", sec.child("pin")
        )
    file = Path(pin_file)
    if base_dir is not None and not file.is_absolute():
        file = base_dir / file
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(f"cannot read {str(file)!r}: {reason}", sec.child("pin_file")) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{str(file)!r} is not UTF-8 text", sec.child("pin_file")) from None
    pin = text.rstrip("\r\n")
    if not pin:
        raise ConfigError(f"{str(file)!r} is empty", sec.child("pin_file"))
    return pin


def _api_addr(root: _Section) -> str | None:
    api_addr = root.string("api_addr")
    if api_addr is not None:
        parts = urlsplit(api_addr)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"expected a URL such as https://sealer.example.com:8200, got {api_addr!r}", "api_addr"
            )
    return api_addr


def _log_level(root: _Section) -> str:
    level = root.string("log_level", default="info")
    assert level is not None
    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"expected one of {', '.join(LOG_LEVELS)}; got {level!r}", "log_level")
    return level.lower()


def _auto_init(root: _Section) -> AutoInitConfig | None:
    if not root.present("auto_init"):
        return None
    sec = root.section("auto_init")
    shares = sec.integer("secret_shares", default=5)
    threshold = sec.integer("secret_threshold", default=3)
    output_file = sec.string("output_file", default="init.json", allow_empty=True)
    assert output_file is not None
    if not 1 <= shares <= MAX_SHARES:
        raise ConfigError(f"must be from 1 to {MAX_SHARES}, got {shares}", sec.child("secret_shares"))
    if not 1 <= threshold <= shares:
        raise ConfigError(
            f"must be from 1 to secret_shares ({shares}), got {threshold}", sec.child("secret_threshold")
        )
    if threshold == 1 and shares > 1:
        # Vault refuses this too: any single share would then rebuild the key on its own.
        raise ConfigError("must be greater than one for multiple shares", sec.child("secret_threshold"))
    return AutoInitConfig(secret_shares=shares, secret_threshold=threshold, output_file=output_file)


# ---------------------------------------------------------------------------------------------------
# A mapping read with its key path in hand

_REQUIRED: Any = object()


def _shown(value: object) -> str:
    """How a wrong value appears in a message, written as YAML would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    return _kind(value)


def _kind(value: object) -> str:
    """The type of a value without the value itself (for secrets)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(key: str, keys: tuple[str, ...]) -> str:
    if not keys:
        return " (this block takes no keys)"
    close = difflib.get_close_matches(key, keys, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(keys)})"


class _Section:
    """One mapping of the file. Unknown keys are refused on construction, so a typo is reported as a
    typo (with a suggestion) rather than as the missing key it was meant to be."""

    def __init__(self, data: object, path: str, keys: tuple[str, ...], *, top: bool = False) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            where = path or "configuration"
            raise ConfigError(
                f"expected a mapping{' at the top level' if top else ''}, got {_shown(data)}", where
            )
        self.path = path
        self._data: dict[str, object] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise ConfigError(f"keys must be strings, got {_shown(key)}", path or "configuration")
            if key not in keys:
                raise ConfigError(f"unknown key{_suggest(key, keys)}", self.child(key))
            self._data[key] = value

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def present(self, key: str) -> bool:
        return key in self._data

    def string(
        self,
        key: str,
        *,
        default: str | None = None,
        required: bool = False,
        secret: bool = False,
        allow_empty: bool = False,
        hint: str = "",
    ) -> str | None:
        if key not in self._data:
            if required:
                raise ConfigError("required", self.child(key))
            return default
        value = self._data[key]
        if not isinstance(value, str):
            got = _kind(value) if secret else _shown(value)
            extra = hint if isinstance(value, int | float) and not isinstance(value, bool) else ""
            raise ConfigError(f"expected a string, got {got}{extra}", self.child(key))
        if not value and not allow_empty:
            raise ConfigError("must not be empty", self.child(key))
        return value

    def raw(self, key: str) -> object:
        return self._data.get(key)

    def number(self, key: str, *, default: float) -> float:
        value = self._data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"expected a number, got {_shown(value)}", self.child(key))
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {_shown(value)}", self.child(key))
        return value

    def integer(self, key: str, *, default: int) -> int:
        value = self._data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"expected an integer, got {_shown(value)}", self.child(key))
        return value

    def section(self, key: str, keys: tuple[str, ...] | None = None) -> _Section:
        return _Section(self._data.get(key), self.child(key), keys or _KEYS[self.child(key)])

    def one_of(self, key: str, kinds: tuple[str, ...], *, default: str | None) -> tuple[str, _Section]:
        """A block naming exactly one kind (`storage: {sqlite: {...}}`): the kind and its section."""
        if key not in self._data and default is not None:
            return default, _Section({}, self.child(f"{key}.{default}"), _KEYS[f"{key}.{default}"])
        outer = _Section(self._data.get(key), self.child(key), kinds)
        given = [kind for kind in kinds if outer.present(kind)]
        if not given:
            raise ConfigError(f"required (one of: {', '.join(kinds)})", self.child(key))
        if len(given) > 1:
            raise ConfigError(
                f"give exactly one of {', '.join(kinds)}; got {' and '.join(given)}", self.child(key)
            )
        return given[0], outer.section(given[0])


_KEYS: dict[str, tuple[str, ...]] = {
    "listener": (
        "address", "tls_cert_file", "tls_key_file", "max_request_size", "max_concurrent_requests",
        "unauthenticated_metrics_access", "http_read_timeout", "http_idle_timeout",
    ),
    "storage.sqlite": ("path",),
    "storage.memory": (),
    "storage.postgresql": ("connection_url", "table", "max_connections", "ha_enabled", "ha_table"),
    "seal.pkcs11": (
        "lib", "pin", "pin_file", "token_label", "token_serial",
        "key_label", "hmac_key_label", "generate_key", "name", "priority", "disabled", "mechanism",
        "call_timeout",
    ),
    "seal.shamir": (),
    "seal.tpm2": ("tcti", "pcrs"),
    "auto_init": ("secret_shares", "secret_threshold", "output_file"),
}
