"""The few Cryptoki calls python-pkcs11 makes in a way we cannot use, made directly through ctypes.

1. C_Initialize: python-pkcs11 passes NULL, and SoftHSM then turns its internal locking off, so two
   threads touching the module crash the process. `LockingLib` passes CKF_OS_LOCKING_OK instead.
   (We also run every call on one thread: see module.py. Both, because either alone has one way to fail.)
2. C_Login: python-pkcs11 only logs in while opening a session, and its Session.close() logs out, which
   ends the login of every session of the process on that token. Login state is per process and token,
   so several Hsm objects on one token need login and session lifetime to be separate.

The function pointers come from the module's own C_GetFunctionList; ctypes.CDLL of the same path
returns the module python-pkcs11 already loaded (the dynamic loader shares it), so both see one state.
"""

from __future__ import annotations

import ctypes
from typing import Any

from pkcs11 import _pkcs11
from pkcs11 import exceptions as p11

CK_RV = ctypes.c_ulong
CK_ULONG = ctypes.c_ulong
CKF_OS_LOCKING_OK = 0x2
CKU_USER = 1

# Return values we raise ourselves; python-pkcs11 keeps its own table private (a Cython inline).
_RV_ERRORS: dict[int, type[p11.PKCS11Error]] = {
    0x05: p11.GeneralError,
    0x06: p11.FunctionFailed,
    0x07: p11.ArgumentsBad,
    0x30: p11.DeviceError,
    0x31: p11.DeviceMemory,
    0x32: p11.DeviceRemoved,
    0xA0: p11.PinIncorrect,
    0xA1: p11.PinInvalid,
    0xA2: p11.PinLenRange,
    0xA3: p11.PinExpired,
    0xA4: p11.PinLocked,
    0xB0: p11.SessionClosed,
    0xB3: p11.SessionHandleInvalid,
    0xE0: p11.TokenNotPresent,
    0x100: p11.UserAlreadyLoggedIn,
    0x101: p11.UserNotLoggedIn,
    0x102: p11.UserPinNotInitialized,
    0x104: p11.AnotherUserAlreadyLoggedIn,
}
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190


class _InitArgs(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", CK_ULONG),
        ("pReserved", ctypes.c_void_p),
    ]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


# CK_FUNCTION_LIST up to C_Logout, in the order fixed by the PKCS#11 standard.
_FUNCTION_NAMES = (
    "C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
    "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
    "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
    "C_SetOperationState", "C_Login", "C_Logout",
)  # fmt: skip


class _FunctionList(ctypes.Structure):
    _fields_ = [("version", _Version)] + [(name, ctypes.c_void_p) for name in _FUNCTION_NAMES]


_C_Initialize = ctypes.CFUNCTYPE(CK_RV, ctypes.c_void_p)
_C_Finalize = ctypes.CFUNCTYPE(CK_RV, ctypes.c_void_p)
_C_Login = ctypes.CFUNCTYPE(CK_RV, CK_ULONG, CK_ULONG, ctypes.c_char_p, CK_ULONG)


def _check(rv: int, call: str) -> None:
    if rv == 0:
        return
    if rv == CKR_CRYPTOKI_ALREADY_INITIALIZED:
        raise p11.PKCS11Error(
            f"{call}: the module was already initialised by other code in this process "
            "(python-pkcs11's pkcs11.lib() initialises without OS locking; do not mix it with hsm)"
        )
    raise _RV_ERRORS.get(rv, p11.PKCS11Error)(f"{call} returned CKR 0x{rv:x}")


class LockingLib(_pkcs11.lib):
    """pkcs11._pkcs11.lib, initialised with CKF_OS_LOCKING_OK and able to log in without a new session.

    lib.__init__ calls self.initialize(), which Cython dispatches to this override. The base class's
    `initialized` flag is read-only from Python and stays False, so its own finalize/unload never call
    C_Finalize behind our back; `is_initialized` is our state.
    """

    def __init__(self, so: str) -> None:
        # Cython's __cinit__ has already dlopen()ed `so` (raising PKCS11Error on a bad path) when this runs.
        self.is_initialized = False
        self._functions = _function_list(so)
        super().__init__(so)

    def initialize(self) -> None:
        if self.is_initialized:
            return
        args = _InitArgs(flags=CKF_OS_LOCKING_OK)
        _check(_C_Initialize(self._functions.C_Initialize)(ctypes.byref(args)), "C_Initialize")
        self.is_initialized = True

    def finalize(self) -> None:
        if not self.is_initialized:
            return
        self.is_initialized = False
        rv = _C_Finalize(self._functions.C_Finalize)(None)
        if rv != CKR_CRYPTOKI_NOT_INITIALIZED:
            _check(rv, "C_Finalize")

    def reinitialize(self) -> None:
        self.finalize()
        self.initialize()

    def login(self, session: Any, pin: str) -> None:
        """C_Login as the normal user on `session` (a pkcs11 Session opened without a PIN)."""
        encoded = pin.encode("utf-8")
        rv = _C_Login(self._functions.C_Login)(session.handle, CKU_USER, encoded, len(encoded))
        _check(rv, "C_Login")


def _function_list(so: str) -> _FunctionList:
    module = ctypes.CDLL(so)
    pointer = ctypes.POINTER(_FunctionList)()
    _check(module.C_GetFunctionList(ctypes.byref(pointer)), "C_GetFunctionList")
    # ctypes never dlclose()s and python-pkcs11 holds its own handle, so the table outlives `module`.
    functions: _FunctionList = pointer.contents
    return functions
