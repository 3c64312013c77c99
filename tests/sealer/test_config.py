"""sealer/config.py: every documented key parses, every kind of error names its key path, the PIN's
three sources and their precedence, secrets stay out of reprs and describe()."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from sealer.config import (
    PIN_ENV,
    AutoInitConfig,
    ConfigError,
    DevOptions,
    ListenerConfig,
    MemoryStorageConfig,
    Pkcs11SealConfig,
    ShamirSealConfig,
    SqliteStorageConfig,
    load_config,
    parse_config,
    split_address,
)

PIN = "4711-not-a-real-pin"
MEMORY = {"memory": {}}


def write(tmp_path: Path, text: str, name: str = "sealer.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def pkcs11(**overrides: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"lib": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "sealer", "pin": PIN}
    block.update(overrides)
    return {"storage": MEMORY, "seal": {"pkcs11": {k: v for k, v in block.items() if v is not None}}}


def error_of(data: object, environ: dict[str, str] | None = None, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ if environ is not None else {}, **kwargs)
    return str(info.value)


# --- every key ---------------------------------------------------------------------------------


def test_every_documented_key_parses(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
        listener:
          address: "[::1]:8443"
          tls_cert_file: tls/cert.pem
          tls_key_file: tls/key.pem
        storage:
          sqlite:
            path: data/sealer.db
        seal:
          pkcs11:
            lib: /usr/lib/softhsm/libsofthsm2.so
            token_serial: "0123456789abcdef"
            pin: "{PIN}"
            key_label: wrap-key
            hmac_key_label: hmac-key
            generate_key: true
        api_addr: https://sealer.example.com:8200
        log_level: DEBUG
        auto_init:
          secret_shares: 7
          secret_threshold: 4
          output_file: secrets/init.json
    """)
    config = load_config(path, environ={})
    assert config.listener == ListenerConfig("[::1]:8443", "tls/cert.pem", "tls/key.pem")
    assert (config.listener.host, config.listener.port, config.listener.tls) == ("::1", 8443, True)
    # Relative paths are kept as written: the daemon resolves them against its cwd, as Vault does.
    assert config.storage == SqliteStorageConfig(path="data/sealer.db")
    assert config.seal == Pkcs11SealConfig(
        lib="/usr/lib/softhsm/libsofthsm2.so", pin=PIN, token_label=None, token_serial="0123456789abcdef",
        key_label="wrap-key", hmac_key_label="hmac-key", generate_key=True,
    )
    assert config.api_addr == "https://sealer.example.com:8200"
    assert config.log_level == "debug"
    assert config.auto_init == AutoInitConfig(secret_shares=7, secret_threshold=4,
                                              output_file="secrets/init.json")


def test_defaults_with_only_storage() -> None:
    config = parse_config({"storage": {"memory": None}}, {})
    assert config.listener == ListenerConfig(address="127.0.0.1:8200")
    assert (config.listener.host, config.listener.port, config.listener.tls) == ("127.0.0.1", 8200, False)
    assert config.storage == MemoryStorageConfig()
    assert config.seal == ShamirSealConfig()
    assert (config.api_addr, config.log_level, config.auto_init) == (None, "info", None)


def test_pkcs11_defaults() -> None:
    seal = parse_config(pkcs11(), {}).seal
    assert isinstance(seal, Pkcs11SealConfig)
    assert seal.key_label == "sealer-root-wrap"
    assert (seal.hmac_key_label, seal.generate_key) == ("sealer-hmac", False)
    assert (seal.token_label, seal.token_serial) == ("sealer", None)


@pytest.mark.parametrize("seal", [{"shamir": {}}, {"shamir": None}])
def test_explicit_shamir_seal(seal: object) -> None:
    assert parse_config({"storage": MEMORY, "seal": seal}, {}).seal == ShamirSealConfig()


def test_auto_init_defaults_and_empty_output_file() -> None:
    defaults = AutoInitConfig(5, 3, "init.json")
    assert parse_config({"storage": MEMORY, "auto_init": {}}, {}).auto_init == defaults
    assert parse_config({"storage": MEMORY, "auto_init": None}, {}).auto_init == defaults
    single = parse_config({"storage": MEMORY, "auto_init": {"secret_shares": 1, "secret_threshold": 1,
                                                              "output_file": ""}}, {})
    assert single.auto_init == AutoInitConfig(1, 1, "")


@pytest.mark.parametrize("level", ["trace", "debug", "info", "warn", "warning", "error", "Info"])
def test_log_levels(level: str) -> None:
    assert parse_config({"storage": MEMORY, "log_level": level}, {}).log_level == level.lower()


# --- errors name the key path ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"storage": {"sqlite": {"path": 5}}}, "storage.sqlite.path: expected a string, got 5"),
        ({"storage": {"sqlite": {}}}, "storage.sqlite.path: required"),
        ({"storage": {"sqlite": {"path": ""}}}, "storage.sqlite.path: must not be empty"),
        ({"storage": {"sqlite": "x.db"}}, "storage.sqlite: expected a mapping, got 'x.db'"),
        ({}, "storage: required (one of: sqlite, memory, postgresql)"),
        ({"storage": {}}, "storage: required (one of: sqlite, memory, postgresql)"),
        ({"storage": {"sqlite": {"path": "a"}, "memory": {}}},
         "storage: give exactly one of sqlite, memory, postgresql; got sqlite and memory"),
        ({"storage": {"sqlte": {}}}, "storage.sqlte: unknown key (did you mean 'sqlite'?)"),
        ({"storage": {"etcd": {}}}, "storage.etcd: unknown key (expected one of: sqlite, memory, postgresql)"),
        ({"storage": {"postgres": {}}}, "storage.postgres: unknown key (did you mean 'postgresql'?)"),
        ({"storage": {"memory": {"size": 1}}}, "storage.memory.size: unknown key (this block takes no keys)"),
        ({"storage": MEMORY, "listener": {"adress": "x"}},
         "listener.adress: unknown key (did you mean 'address'?)"),
        ({"storage": MEMORY, "listner": {}}, "listner: unknown key (did you mean 'listener'?)"),
        ({"storage": MEMORY, "listener": ["127.0.0.1:8200"]}, "listener: expected a mapping, got a list"),
        ({"storage": MEMORY, "listener": {"address": 8200}}, "listener.address: expected a string, got 8200"),
        ({"storage": MEMORY, "listener": {"tls_cert_file": "c.pem"}},
         "listener.tls_key_file: required when tls_cert_file is set"),
        ({"storage": MEMORY, "listener": {"tls_key_file": "k.pem"}},
         "listener.tls_cert_file: required when tls_key_file is set"),
        ({"storage": MEMORY, "seal": {"pkcs11": {"token_label": "t", "pin": "p"}}},
         "seal.pkcs11.lib: required"),
        ({"storage": MEMORY, "seal": {"shamir": {}, "pkcs11": {}}},
         "seal: give exactly one of pkcs11, shamir, tpm2; got pkcs11 and shamir"),
        ({"storage": MEMORY, "seal": {}}, "seal: required (one of: pkcs11, shamir, tpm2)"),
        ({"storage": MEMORY, "seal": {"awskms": {}}},
         "seal.awskms: unknown key (expected one of: pkcs11, shamir, tpm2)"),
        (pkcs11(generate_key="yes"), "seal.pkcs11.generate_key: expected true or false, got 'yes'"),
        (pkcs11(key_lable="x"), "seal.pkcs11.key_lable: unknown key (did you mean 'key_label'?)"),
        (pkcs11(token_serial="123"), "seal.pkcs11: give token_label or token_serial, not both"),
        (pkcs11(token_label=None), "seal.pkcs11: one of token_label or token_serial is required"),
        (pkcs11(token_label=None, token_serial=1234),
         "seal.pkcs11.token_serial: expected a string, got 1234; "
         "quote it, as YAML reads unquoted digits as a number"),
        ({"storage": MEMORY, "log_level": "verbose"},
         "log_level: expected one of trace, debug, info, warn, warning, error; got 'verbose'"),
        ({"storage": MEMORY, "log_level": 3}, "log_level: expected a string, got 3"),
        ({"storage": MEMORY, "api_addr": "sealer:8200"},
         "api_addr: expected a URL such as https://sealer.example.com:8200, got 'sealer:8200'"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": "5"}},
         "auto_init.secret_shares: expected an integer, got '5'"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": True}},
         "auto_init.secret_shares: expected an integer, got true"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": 0}},
         "auto_init.secret_shares: must be from 1 to 255, got 0"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": 256}},
         "auto_init.secret_shares: must be from 1 to 255, got 256"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": 3, "secret_threshold": 4}},
         "auto_init.secret_threshold: must be from 1 to secret_shares (3), got 4"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": 3, "secret_threshold": 0}},
         "auto_init.secret_threshold: must be from 1 to secret_shares (3), got 0"),
        ({"storage": MEMORY, "auto_init": {"secret_shares": 3, "secret_threshold": 1}},
         "auto_init.secret_threshold: must be greater than one for multiple shares"),
        ({"storage": MEMORY, "auto_init": {"output": "x"}},
         "auto_init.output: unknown key (did you mean 'output_file'?)"),
        ({"storage": MEMORY, 5: "x"}, "configuration: keys must be strings, got 5"),
        (["storage"], "configuration: expected a mapping at the top level, got a list"),
        ("storage: memory", "configuration: expected a mapping at the top level, got 'storage: memory'"),
    ],
)
def test_errors_name_the_key_path(data: object, message: str) -> None:
    assert error_of(data) == message


def test_error_carries_path_and_message_separately() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"storage": {"sqlite": {"path": 5}}}, {})
    assert (info.value.path, info.value.message) == ("storage.sqlite.path", "expected a string, got 5")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "address", ["127.0.0.1:8200", "localhost:0", "[::1]:8200", "[::]:65535", "sealer.internal:1"]
)
def test_good_addresses(address: str) -> None:
    config = parse_config({"storage": MEMORY, "listener": {"address": address}}, {})
    assert config.listener.address == address
    assert config.listener.port == int(address.rsplit(":", 1)[1])


def test_ipv6_host_has_no_brackets() -> None:
    assert split_address("[fe80::1]:8200") == ("fe80::1", 8200)
    assert split_address("0.0.0.0:8200") == ("0.0.0.0", 8200)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "expected host:port, got '127.0.0.1'"),
        (":8200", "expected host:port, got ':8200'"),
        ("127.0.0.1:", "port must be a number from 0 to 65535, got ''"),
        ("127.0.0.1:65536", "port must be a number from 0 to 65535, got '65536'"),
        ("127.0.0.1:-1", "port must be a number from 0 to 65535, got '-1'"),
        ("127.0.0.1:http", "port must be a number from 0 to 65535, got 'http'"),
        ("::1:8200", "write an IPv6 address in brackets, e.g. [::1]:8200, got '::1:8200'"),
        ("[::1:8200", "unbalanced brackets in '[::1:8200'"),
        ("[nothost]:8200", "'nothost' in brackets is not an IPv6 address"),
        ("http://127.0.0.1:8200", "expected host:port without a scheme, got 'http://127.0.0.1:8200'"),
        ("a b:80", "'a b' is not a host name or IP address"),
    ],
)
def test_bad_addresses_are_refused(address: str, reason: str) -> None:
    assert error_of({"storage": MEMORY, "listener": {"address": address}}) == f"listener.address: {reason}"


# --- the PIN -------------------------------------------------------------------------------------------


def pin_of(data: dict[str, Any], environ: dict[str, str], base_dir: Path | None = None) -> str:
    seal = parse_config(data, environ, base_dir=base_dir).seal
    assert isinstance(seal, Pkcs11SealConfig)
    return seal.pin


def test_pin_inline() -> None:
    assert pin_of(pkcs11(), {}) == PIN


def test_pin_from_environment() -> None:
    assert pin_of(pkcs11(pin=None), {PIN_ENV: "from-env"}) == "from-env"


def test_pin_from_file_strips_the_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("from file \n\n")
    # Only line ends go: a trailing space is part of the PIN.
    assert pin_of(pkcs11(pin=None, pin_file=str(tmp_path / "pin")), {}) == "from file "
    (tmp_path / "pin-crlf").write_text("crlf\r\n")
    assert pin_of(pkcs11(pin=None, pin_file=str(tmp_path / "pin-crlf")), {}) == "crlf"


def test_relative_pin_file_is_read_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "hsm.pin").write_text("relative\n")
    assert pin_of(pkcs11(pin=None, pin_file="hsm.pin"), {}, base_dir=tmp_path) == "relative"


def test_pin_precedence_inline_then_environment_then_file(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("from-file\n")
    environ = {PIN_ENV: "from-env"}
    assert pin_of(pkcs11(), environ) == PIN
    assert pin_of(pkcs11(pin=None, pin_file=str(tmp_path / "pin")), environ) == "from-env"
    assert pin_of(pkcs11(pin=None, pin_file=str(tmp_path / "pin")), {PIN_ENV: ""}) == "from-file"


def test_pin_and_pin_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pin").write_text("x")
    assert error_of(pkcs11(pin_file=str(tmp_path / "pin"))) == "seal.pkcs11: give pin or pin_file, not both"


def test_missing_pin_names_all_three_sources() -> None:
    message = error_of(pkcs11(pin=None), {PIN_ENV: ""})
    assert message == ("seal.pkcs11.pin: required: set `pin:`, the SEALER_HSM_PIN environment variable, "
                       "or `pin_file:`")


def test_unreadable_or_empty_pin_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert error_of(pkcs11(pin=None, pin_file=str(missing))) == (
        f"seal.pkcs11.pin_file: cannot read {str(missing)!r}: No such file or directory")
    (tmp_path / "empty").write_text("\n")
    assert error_of(pkcs11(pin=None, pin_file=str(tmp_path / "empty"))) == (
        f"seal.pkcs11.pin_file: {str(tmp_path / 'empty')!r} is empty")


def test_a_numeric_pin_is_refused_without_echoing_it() -> None:
    # YAML reads `pin: 0123` as the octal number 83: taking it would log in with the wrong PIN.
    message = error_of(pkcs11(pin=908172))
    assert message == ("seal.pkcs11.pin: expected a string, got a number; quote it, as YAML reads "
                       "unquoted digits as a number")
    assert "908172" not in message


# --- secrets stay out of reprs and logs -------------------------------------------------------------


def test_pin_is_not_in_repr_or_describe() -> None:
    config = parse_config(pkcs11(), {})
    assert PIN not in repr(config)
    described = config.describe()
    assert PIN not in repr(described)
    assert described["seal"] == {
        "type": "pkcs11", "lib": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "sealer",
        "token_serial": None, "key_label": "sealer-root-wrap", "hmac_key_label": "sealer-hmac",
        "generate_key": False, "mechanism": "aes-gcm",
    }
    assert described["storage"] == {"type": "memory"}


def test_describe_of_a_full_config() -> None:
    config = parse_config({"storage": {"sqlite": {"path": "s.db"}}, "auto_init": {}}, {})
    assert config.describe() == {
        "listener": {"address": "127.0.0.1:8200", "tls_cert_file": None, "tls_key_file": None},
        "storage": {"type": "sqlite", "path": "s.db"},
        "seal": {"type": "shamir"},
        "api_addr": None,
        "log_level": "info",
        "auto_init": {"secret_shares": 5, "secret_threshold": 3, "output_file": "init.json"},
    }


def test_dev_root_token_is_not_in_repr() -> None:
    dev = DevOptions(root_token_id="dev-root-secret")
    assert "dev-root-secret" not in repr(dev)
    assert dev.listen_address == "127.0.0.1:8200"


# --- the file ---------------------------------------------------------------------------------------


def test_environment_defaults_to_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PIN_ENV, "process-env")
    path = write(tmp_path, """
        storage: {memory: {}}
        seal: {pkcs11: {lib: /l.so, token_label: t}}
    """)
    seal = load_config(path).seal
    assert isinstance(seal, Pkcs11SealConfig)
    assert seal.pin == "process-env"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*nope\.yaml: No such file or directory"):
        load_config(tmp_path / "nope.yaml", {})


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  memory: {\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert str(info.value).startswith(f"{path} is not valid YAML:")
    assert "line 3" in str(info.value)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, """
        storage: {memory: {}}
        listener:
          address: 127.0.0.1:1
          address: 127.0.0.1:2
    """)
    with pytest.raises(ConfigError, match=r"found duplicate key 'address'"):
        load_config(path, {})


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, """
        storage: {memory: {}}
        listener:
          <<: {address: "127.0.0.1:9000", tls_cert_file: c.pem}
          address: "127.0.0.1:9001"
          tls_key_file: k.pem
    """)
    assert load_config(path, {}).listener == ListenerConfig("127.0.0.1:9001", "c.pem", "k.pem")


def error_of_file(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    return str(info.value)


def test_empty_file_asks_for_storage(tmp_path: Path) -> None:
    assert error_of_file(write(tmp_path, "")) == "storage: required (one of: sqlite, memory, postgresql)"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"storage: \xff\xfe\n")
    assert error_of_file(path) == f"{path} is not UTF-8 text"
