"""The async face of a TPM 2.0: seal and unseal a short secret, read PCRs.

Every call runs on one worker thread (an ESAPI context is not thread-safe), bounded by call_timeout.
Each operation re-derives the primary key from a fixed template and flushes what it loaded, so nothing
is left in the TPM between calls (a TPM without a resource manager has only a few object slots) and a
restarted TPM or resource manager needs nothing but a reconnect, which happens on the next call.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from hsm.tpm2.errors import PcrMismatch, TpmError, TpmLibraryMissing, TpmObjectInvalid, TpmUnreachable
from hsm.tpm2.pcrs import PcrSelection
from hsm.tpm2.sealed import SealedObject
from hsm.tpm2.settings import Tpm2Settings

# The TSS libraries log every failed connect to stderr; the errors reach the daemon's log through ours.
os.environ.setdefault("TSS2_LOG", "all+none")

try:
    from tpm2_pytss import (
        ESAPI,
        TPM2B_DIGEST,
        TPM2B_PRIVATE,
        TPM2B_PUBLIC,
        TPM2B_SENSITIVE_CREATE,
        TPM2B_SENSITIVE_DATA,
        TPML_PCR_SELECTION,
        TPMS_SENSITIVE_CREATE,
        TPMT_PUBLIC,
        TPMT_SYM_DEF,
        TSS2_Exception,
    )
    from tpm2_pytss.constants import ESYS_TR, TPM2_ALG, TPM2_CAP, TPM2_PT, TPM2_RC, TPM2_SE, TPMA_OBJECT
except ImportError as exc:  # an optional extra: `pip install sealer[tpm]`
    raise TpmLibraryMissing(
        "the tpm2 seal needs the tpm2-pytss package (pip install 'sealer[tpm]'; it builds against apt's "
        f"libtss2-dev): {exc}"
    ) from exc

T = TypeVar("T")

_TCTI_LAYER = 0x0A0000
_LAYER_MASK = 0xFF0000
# A sealed object from another TPM, or from this one before its owner hierarchy was cleared.
_FOREIGN_OBJECT = (TPM2_RC.INTEGRITY, TPM2_RC.BINDING, TPM2_RC.SIZE, TPM2_RC.KEY)
_FULL = (TPM2_RC.OBJECT_MEMORY, TPM2_RC.SESSION_MEMORY)


class Tpm:
    """One TPM reached through one TCTI. Create with `await Tpm.open(settings)`; close once."""

    def __init__(self, settings: Tpm2Settings) -> None:
        """Use Tpm.open()."""
        self._settings = settings
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tpm2")
        self._ctx: Any = None
        self._info: dict[str, str] = {"tcti": settings.tcti}
        self._closed = False

    @classmethod
    async def open(cls, settings: Tpm2Settings) -> Tpm:
        """Connect and check that the primary key can be derived (TpmUnreachable otherwise)."""
        tpm = cls(settings)
        try:
            await tpm._call(tpm._probe)
        except BaseException:
            await tpm.close()
            raise
        return tpm

    def describe(self) -> dict[str, str]:
        return dict(self._info)

    async def seal(self, secret: bytes, pcrs: PcrSelection | None) -> SealedObject:
        """`secret` (at most 128 bytes) sealed under the primary key, bound to `pcrs` as they are now."""
        return await self._call(self._seal, secret, pcrs)

    async def unseal(self, sealed: SealedObject) -> bytes:
        """The secret; PcrMismatch naming the changed PCRs, TpmObjectInvalid for another TPM's object."""
        return await self._call(self._unseal, sealed)

    async def read_pcrs(self, pcrs: PcrSelection) -> dict[str, bytes]:
        return await self._call(self._read_pcrs, pcrs)

    async def probe(self) -> None:
        """Derive the primary key: proof that the TPM answers and its owner hierarchy is usable."""
        await self._call(self._probe)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            # A TPM that hangs must not hang the daemon's shutdown: give up on the worker after the timeout.
            with suppress(TimeoutError):
                await asyncio.wait_for(loop.run_in_executor(self._worker, self._disconnect),
                                       self._settings.call_timeout)
        finally:
            self._worker.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"<Tpm tcti={self._settings.tcti}>"

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise TpmError("this Tpm is closed")
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._worker, fn, *args), self._settings.call_timeout)
        except TimeoutError:
            raise TpmUnreachable(f"the TPM at {self._settings.tcti} did not answer within "
                                 f"{self._settings.call_timeout:g}s") from None

    # -- on the worker thread ---------------------------------------------------------------

    def _esapi(self) -> Any:
        if self._ctx is None:
            try:
                self._ctx = ESAPI(self._settings.tcti)
            except TSS2_Exception as exc:
                raise TpmUnreachable(f"cannot reach a TPM at TCTI '{self._settings.tcti}': {exc}") from None
            self._info["manufacturer"] = self._manufacturer(self._ctx)
        return self._ctx

    def _disconnect(self) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.close()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except TSS2_Exception as exc:
            if exc.rc & _LAYER_MASK == _TCTI_LAYER:
                self._disconnect()  # reconnect on the next call
                raise TpmUnreachable(f"lost the TPM at TCTI '{self._settings.tcti}' while {doing}: {exc}") from None
            if exc.rc & _LAYER_MASK != _TCTI_LAYER and exc.error in _FULL:
                raise TpmError(
                    f"the TPM has no free slot while {doing} ({exc}): without a resource manager, objects another "
                    "process loaded (or a killed one left) stay in the TPM; use the kernel's resource manager "
                    "(tcti device:/dev/tpmrm0) or tpm2-abrmd (tabrmd:), or flush them with tpm2_flushcontext -t"
                ) from None
            raise TpmError(f"the TPM refused {doing}: {exc}") from None

    @contextmanager
    def _primary(self) -> Iterator[Any]:
        ctx = self._esapi()
        with self._errors("deriving the primary key under the owner hierarchy"):
            primary = ctx.create_primary(TPM2B_SENSITIVE_CREATE(), _primary_template(), ESYS_TR.OWNER)[0]
        try:
            yield primary
        finally:
            with self._errors("flushing the primary key"):
                ctx.flush_context(primary)

    def _probe(self) -> None:
        with self._primary():
            pass

    def _seal(self, secret: bytes, pcrs: PcrSelection | None) -> SealedObject:
        ctx = self._esapi()
        with self._primary() as primary:
            values = self._read_pcrs(pcrs) if pcrs is not None else {}
            policy = TPM2B_DIGEST() if pcrs is None else self._pcr_policy_digest(pcrs)
            attributes = TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
            if pcrs is None:
                attributes |= TPMA_OBJECT.USERWITHAUTH  # the empty password: sealed to this TPM alone
            public = TPMT_PUBLIC(type=TPM2_ALG.KEYEDHASH, nameAlg=TPM2_ALG.SHA256, objectAttributes=attributes,
                                 authPolicy=policy)
            public.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG.NULL
            sensitive = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(data=TPM2B_SENSITIVE_DATA(secret)))
            with self._errors("sealing a secret"):
                private, public_out = ctx.create(primary, sensitive, TPM2B_PUBLIC(public))[:2]
        return SealedObject(public=bytes(public_out.marshal()), private=bytes(private.marshal()), pcrs=pcrs,
                            pcr_values=values)

    def _unseal(self, sealed: SealedObject) -> bytes:
        ctx = self._esapi()
        with self._primary() as primary:
            try:
                handle = ctx.load(primary, TPM2B_PRIVATE.unmarshal(sealed.private)[0],
                                  TPM2B_PUBLIC.unmarshal(sealed.public)[0])
            except TSS2_Exception as exc:
                if exc.rc & _LAYER_MASK != _TCTI_LAYER and exc.error in _FOREIGN_OBJECT:
                    raise TpmObjectInvalid(
                        "this TPM cannot load the sealed object: it was sealed by another TPM, or this TPM's "
                        f"owner hierarchy was cleared since ({exc})") from None
                with self._errors("loading the sealed object"):
                    raise
            try:
                return self._unseal_loaded(ctx, handle, sealed)
            finally:
                with self._errors("flushing the sealed object"):
                    ctx.flush_context(handle)

    def _unseal_loaded(self, ctx: Any, handle: Any, sealed: SealedObject) -> bytes:
        if sealed.pcrs is None:
            with self._errors("unsealing"):
                return bytes(ctx.unseal(handle, session1=ESYS_TR.PASSWORD))
        session = self._policy_session(ctx, TPM2_SE.POLICY)
        try:
            with self._errors("satisfying the PCR policy"):
                ctx.policy_pcr(session, TPM2B_DIGEST(), TPML_PCR_SELECTION.parse(str(sealed.pcrs)))
            try:
                return bytes(ctx.unseal(handle, session1=session))
            except TSS2_Exception as exc:
                if exc.rc & _LAYER_MASK == _TCTI_LAYER or exc.error != TPM2_RC.POLICY_FAIL:
                    with self._errors("unsealing"):
                        raise
            # The session is spent by the failed check; explain which PCRs moved.
            raise self._mismatch(sealed)
        finally:
            with _ignore_gone_session(), self._errors("flushing the policy session"):
                ctx.flush_context(session)

    def _mismatch(self, sealed: SealedObject) -> PcrMismatch:
        assert sealed.pcrs is not None
        now = self._read_pcrs(sealed.pcrs)
        changed = tuple(name for name in sealed.pcrs.names()
                        if name not in sealed.pcr_values or sealed.pcr_values[name] != now.get(name))
        shown = ", ".join(changed) or "none that this object recorded"
        return PcrMismatch(
            f"its PCRs differ from the boot state the object was sealed in ({sealed.pcrs}); changed: {shown}",
            sealed_to=str(sealed.pcrs), changed=changed)

    def _pcr_policy_digest(self, pcrs: PcrSelection) -> Any:
        ctx = self._esapi()
        session = self._policy_session(ctx, TPM2_SE.TRIAL)
        try:
            with self._errors("computing the PCR policy"):
                ctx.policy_pcr(session, TPM2B_DIGEST(), TPML_PCR_SELECTION.parse(str(pcrs)))
                return ctx.policy_get_digest(session)
        finally:
            with self._errors("flushing the trial session"):
                ctx.flush_context(session)

    def _policy_session(self, ctx: Any, kind: Any) -> Any:
        with self._errors("starting a policy session"):
            return ctx.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, kind,
                                          TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL), TPM2_ALG.SHA256)

    def _read_pcrs(self, pcrs: PcrSelection) -> dict[str, bytes]:
        ctx = self._esapi()
        values: dict[str, bytes] = {}
        # One PCR per read: a single TPM2_PCR_Read returns at most 8 digests.
        for name in pcrs.names():
            with self._errors(f"reading PCR {name}"):
                digests = ctx.pcr_read(TPML_PCR_SELECTION.parse(name))[2]
            if len(digests) != 1:
                raise TpmError(f"the TPM has no PCR {name} (is the {name.split(':')[0]} bank active?)")
            values[name] = bytes(digests[0])
        return values

    def _manufacturer(self, ctx: Any) -> str:
        with self._errors("reading the manufacturer"):
            # Keep each cffi object referenced while reading it: a temporary parent frees its children.
            capability = ctx.get_capability(TPM2_CAP.TPM_PROPERTIES, TPM2_PT.MANUFACTURER, 1)[1]
            properties = capability.data.tpmProperties
            value = int(properties[0].value)
        text = value.to_bytes(4, "big").decode("ascii", "replace").strip("\x00 ")
        return text or hex(value)


def _primary_template() -> Any:
    # The storage root key template tpm2-tools uses: the same template under the same owner seed yields the
    # same key, so nothing about the primary is stored.
    return TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=TPMA_OBJECT.DEFAULT_TPM2_TOOLS_CREATEPRIMARY_ATTRS)


@contextmanager
def _ignore_gone_session() -> Iterator[None]:
    # A policy session that failed its check may already be flushed by the TPM.
    with suppress(TpmError):
        yield


__all__ = ["Tpm"]
