"""CIDR binding for auth methods (Vault's cidrutil and parseutil.ParseAddrs): which client addresses
may log in or use a token. Addresses are compared as parsed networks, never as strings, so "10.0.0.1"
and "10.0.0.01" or "::ffff:..." tricks cannot slip through a prefix comparison."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from engine.errors import BadRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_addrs(values: Iterable[str]) -> list[str]:
    """Addresses or CIDR blocks, as token_bound_cidrs takes them; rendered as Vault does (a single
    address without its /32 or /128)."""
    parsed = []
    for value in values:
        try:
            interface = ipaddress.ip_interface(value.strip())
        except ValueError:
            raise BadRequest(f'unable to parse address "{value}"') from None
        full = interface.network.max_prefixlen == interface.network.prefixlen
        parsed.append(str(interface.ip) if full else str(interface))
    return parsed


def validate_cidr_blocks(values: Iterable[str]) -> list[str]:
    """CIDR blocks in a/len notation, as approle's secret_id_bound_cidrs and cidr_list require them."""
    blocks = [value.strip() for value in values]
    for block in blocks:
        try:
            if "/" not in block:
                raise ValueError(block)
            ipaddress.ip_network(block, strict=False)
        except ValueError:
            raise BadRequest(f"failed to validate CIDR blocks: invalid CIDR address: {block}") from None
    return blocks


def _network(block: str) -> Network:
    return ipaddress.ip_network(block.strip(), strict=False)


def address_allowed(remote: str, blocks: Iterable[str]) -> bool:
    """Whether the client address falls inside one of `blocks` (addresses count as /32 or /128)."""
    try:
        address = ipaddress.ip_address(remote.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in _network(block) for block in blocks)


def is_subset(outer: Iterable[str], inner: Iterable[str]) -> bool:
    """Whether every block of `inner` lies inside some block of `outer` (Vault's SubsetBlocks)."""
    outer_networks = [_network(block) for block in outer]
    for block in inner:
        network = _network(block)
        if not any(network.version == o.version and network.subnet_of(o) for o in outer_networks):  # type: ignore[arg-type]
            return False
    return True


def quoted_list(values: Iterable[str]) -> str:
    """A list as Go's %q prints it: ["a" "b"]."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"
