"""Shared by the PKI tests: a Core over the real barrier on memory storage with pki mounted at pki/, a
settable clock, short ways to call it, and certificate checks with cryptography's RFC 5280 verifier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from engine.barrier import Barrier
from engine.core import Core
from engine.errors import EngineError
from engine.request import Op, Request, Response
from engine.storage.memory import MemoryStorage
from engine.token_keys import TokenKeys
from tests.engine.core_harness import Clock, raised, unsealed_barrier


def load_pem(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def verify_chain(
    leaf_pem: str, root_pem: str, at: datetime, dns_name: str, intermediates: tuple[str, ...] = ()
) -> None:
    """RFC 5280 path validation of a server certificate (raises VerificationError when it fails)."""
    verifier = PolicyBuilder().store(Store([load_pem(root_pem)])).time(at).build_server_verifier(x509.DNSName(dns_name))
    verifier.verify(load_pem(leaf_pem), [load_pem(p) for p in intermediates])


@dataclass
class Pki:
    core: Core
    root: str
    clock: Clock
    barrier: Barrier

    async def call(self, op: Op, path: str, data: dict[str, Any] | None = None, token: str | None = "root") -> Response:
        client_token = self.root if token == "root" else token
        return await self.core.handle(Request(op, path, dict(data or {}), client_token=client_token))

    async def write(self, path: str, **data: Any) -> dict[str, Any]:
        response = await self.call(Op.UPDATE, path, data)
        return response.data or {}

    async def read(self, path: str) -> dict[str, Any]:
        return (await self.call(Op.READ, path)).data or {}

    async def fails(self, path: str, status: int = 400, op: Op = Op.UPDATE, **data: Any) -> str:
        error: EngineError = await raised(self.call(op, path, data))
        assert error.status == status, error.message
        return error.message

    async def mount(self, path: str = "pki") -> None:
        await self.call(Op.UPDATE, f"sys/mounts/{path}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})

    async def mount_uuid(self, path: str = "pki") -> str:
        mounts = await self.call(Op.READ, "sys/mounts")
        assert mounts.data is not None
        return str(mounts.data[f"{path}/"]["uuid"])

    async def root_ca(self, mount: str = "pki", **extra: Any) -> dict[str, Any]:
        # EC keys unless a test asks otherwise: RSA generation would make the suite slow.
        settings = {"common_name": "example.com", "ttl": "8760h", "key_type": "ec", **extra}
        return await self.write(f"{mount}/root/generate/internal", **settings)

    async def role(self, name: str = "web", mount: str = "pki", **settings: Any) -> None:
        defaults: dict[str, Any] = {
            "allowed_domains": ["example.com"],
            "allow_subdomains": True,
            "max_ttl": "72h",
            "key_type": "ec",
        }
        await self.write(f"{mount}/roles/{name}", **{**defaults, **settings})


async def start_pki(token_keys: TokenKeys | None = None) -> Pki:
    barrier = await unsealed_barrier(MemoryStorage())
    clock = Clock(datetime.now().astimezone().replace(microsecond=0))
    core = Core(barrier, clock=clock, token_keys=token_keys)
    await core.setup()
    engine = Pki(core, await core.create_root_token(), clock, barrier)
    await engine.mount()
    return engine


async def stop_pki(engine: Pki) -> None:
    await engine.core.teardown()
    engine.barrier.seal()
