"""Turning API answers into output, as Vault's command/format.go does: a Key/Value table for people,
JSON or YAML for machines, and single raw fields for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from sealer.cli.base import CommandFailed, Context, Exit

GLUE = "    "


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True, allow_unicode=True).strip()


def dump(data: object, fmt: str) -> str:
    return dump_yaml(data) if fmt == "yaml" else dump_json(data)


def go_value(value: object) -> str:
    """A value as Go's %v prints it, so tables read the same as Vault's."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value, key=str)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)


def human_duration(seconds: int) -> str:
    """Seconds as Vault prints a TTL: 2764800 -> "768h", 90 -> "1m30s", 3600 -> "1h"."""
    if seconds == 0:
        return "0s"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h{minutes}m{secs}s"
    elif minutes:
        text = f"{minutes}m{secs}s"
    else:
        text = f"{secs}s"
    # The same trimming as Vault's humanDuration: drop a "0s" tail, then a "0m" inside.
    if text.endswith("m0s"):
        text = text[:-2]
    if "h0m" in text:
        index = text.index("h0m")
        text = text[: index + 1] + text[index + 3 :]
    return sign + text


def looks_like_duration(key: str) -> bool:
    return (key in ("period", "ttl", "duration", "lease_max", "ttl_max")
            or key.endswith(("_period", "_ttl", "_duration")))


def _cell(key: str, value: object) -> str:
    if looks_like_duration(key) and isinstance(value, int) and not isinstance(value, bool):
        return human_duration(value)
    return go_value(value)


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned columns (the last column is not padded), empty cells as n/a."""
    rows = [[cell.strip() or "n/a" for cell in row] for row in rows]
    if not rows:
        return ""
    count = max(len(row) for row in rows)
    widths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(count)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append(GLUE.join(cells).rstrip())
    return "\n".join(lines)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A header, a dashed underline, then the rows."""
    return columns([list(header), ["-" * len(h) for h in header], *[list(row) for row in rows]])


def kv_table(pairs: Iterable[tuple[str, object]]) -> str:
    return table(("Key", "Value"), [(key, _cell(key, value)) for key, value in pairs])


def print_warnings(ctx: Context, secret: Mapping[str, Any] | None) -> None:
    warnings = (secret or {}).get("warnings") or []
    if warnings:
        ctx.env.err("WARNING! The following warnings were returned from Sealer:\n")
        for warning in warnings:
            ctx.env.err(f"  * {warning}\n")


def secret_rows(secret: Mapping[str, Any]) -> list[tuple[str, object]]:
    """The rows of Vault's OutputSecret: lease facts, auth facts, then the data keys, sorted."""
    rows: list[tuple[str, object]] = []
    lease_duration = secret.get("lease_duration") or 0
    if lease_duration > 0:
        if secret.get("lease_id"):
            rows += [("lease_id", secret["lease_id"]), ("lease_duration", lease_duration),
                     ("lease_renewable", bool(secret.get("renewable")))]
        else:
            # A KV v1 read carries a TTL hint but no lease: Vault calls it refresh_interval.
            rows.append(("refresh_interval", human_duration(lease_duration)))
    auth = secret.get("auth")
    if auth:
        duration = auth.get("lease_duration") or 0
        rows += [
            ("token", auth.get("client_token", "")),
            ("token_accessor", auth.get("accessor", "")),
            ("token_duration", human_duration(duration) if duration else "∞"),
            ("token_renewable", bool(auth.get("renewable"))),
            ("token_policies", _quoted_list(auth.get("token_policies"))),
            ("identity_policies", _quoted_list(auth.get("identity_policies"))),
            ("policies", _quoted_list(auth.get("policies"))),
        ]
        rows += [(f"token_meta_{k}", v) for k, v in sorted((auth.get("metadata") or {}).items())]
    data = secret.get("data") or {}
    rows += [(key, data[key]) for key in sorted(data)]
    return rows


def _quoted_list(values: object) -> str:
    # Go's %q of a []string: ["a" "b"]
    items = values if isinstance(values, list) else []
    return "[" + " ".join(json.dumps(str(v)) for v in items) + "]"


def output_secret(ctx: Context, secret: Mapping[str, Any]) -> int:
    if ctx.format != "table":
        ctx.env.out(dump(dict(secret), ctx.format))
        return Exit.OK
    print_warnings(ctx, secret)
    rows = secret_rows(secret)
    if rows:
        ctx.env.out(kv_table(rows))
    return Exit.OK


def raw_field(secret: Mapping[str, Any], name: str) -> object:
    """Vault's RawField: the lease and auth facts by their table names, else a data key."""
    data = secret.get("data") or {}
    auth = secret.get("auth")
    if auth:
        auth_fields = {
            "token": "client_token", "token_accessor": "accessor", "token_duration": "lease_duration",
            "token_renewable": "renewable", "token_policies": "token_policies",
            "identity_policies": "identity_policies", "policies": "policies",
        }
        if name in auth_fields:
            return auth.get(auth_fields[name])
        return data.get(name)
    match name:
        case "lease_duration" | "refresh_interval":
            return secret.get("lease_duration")
        case "lease_id" | "request_id" | "renewable":
            return secret.get(name)
        case "data":
            return data.get("data", data)
    return data.get(name)


def print_raw_field(ctx: Context, secret: Mapping[str, Any], name: str) -> int:
    value = raw_field(secret, name)
    if value is None:
        raise CommandFailed(f'Field "{name}" not present in secret')
    text = go_value(value) if ctx.format == "table" else dump(value, ctx.format)
    print_raw(ctx, text)
    return Exit.OK


def print_raw(ctx: Context, text: str) -> None:
    """As Vault's PrintRaw: a newline on a terminal, none when piped (`$(sealer read -field=x ...)`)."""
    ctx.env.stdout.write(text + ("\n" if ctx.env.stdout.isatty() else ""))


def show_secret(ctx: Context, secret: Mapping[str, Any], field: str | None) -> int:
    """A whole API answer: one raw field with -field, else the format asked for."""
    if field:
        return print_raw_field(ctx, secret, field)
    return output_secret(ctx, secret)


def show_data(ctx: Context, data: Mapping[str, Any], field: str | None = None) -> int:
    """A plain map (Vault's OutputData): a sorted Key/Value table, or the map as JSON/YAML."""
    if field:
        if field not in data:
            raise CommandFailed(f'Field "{field}" not present in secret')
        value = data[field]
        print_raw(ctx, go_value(value) if ctx.format == "table" else dump(value, ctx.format))
        return Exit.OK
    if ctx.format != "table":
        ctx.env.out(dump(dict(data), ctx.format))
    elif data:
        ctx.env.out(kv_table(sorted(data.items())))
    return Exit.OK


def show_list(ctx: Context, keys: Sequence[object], header: str = "Keys") -> int:
    if ctx.format != "table":
        ctx.env.out(dump(list(keys), ctx.format))
    else:
        ctx.env.out(table((header,), [(str(key),) for key in keys]))
    return Exit.OK


def section(title: str, width: int) -> str:
    """Vault's padEqualSigns: `== Secret Path ==`, the '=' on each side sized to what follows."""
    signs = width - (len(title) + 2)
    if signs <= 0:
        signs = 4
    signs += signs % 2
    return f"{'=' * (signs // 2)} {title} {'=' * (signs // 2)}"


def map_section(title: str, data: Mapping[str, Any]) -> str:
    """Vault's getHeaderForMap: the header over a Key/Value table, as wide as its longest key + "Value"."""
    return section(title, max((len(key) for key in data), default=0) + len(GLUE) + len("Value"))


def path_section(ctx: Context, title: str, path: str) -> None:
    """Vault's outputPath: a header as wide as the path, the path, a blank line."""
    ctx.env.out(section(title, len(path)))
    ctx.env.out(path + "\n")


def map_table(ctx: Context, title: str, data: Mapping[str, Any]) -> None:
    ctx.env.out(map_section(title, data))
    ctx.env.out(kv_table(sorted(data.items())))
