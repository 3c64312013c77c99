"""Token keys found by label, kept for the life of one connection to the token.

Finding a key is a C_FindObjects search of the token; SoftHSM answers it by re-reading its object store,
0.8 ms with twenty keys against 90 us for the AES-GCM call itself (and a network HSM answers it with a
round trip). So each connection remembers the handles it found. A handle stays valid while the session
it was found with lives, and a connection's handles go with it:

- this process destroys (or replaces) a key only through token_objects.destroy, which forgets its label;
- a key destroyed by another application makes its handle invalid: the call fails with
  CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID, which the connection treats as a lost session (it
  reconnects, with no handles, and searches again);
- another node of an HA cluster may destroy and recreate a key under the same label while this one does
  not serve: the daemon forgets every handle whenever its core starts serving (an HSM may give a freed
  handle to another object).

Only the module's worker thread finds and uses handles; forget_all may come from any thread (a dict's
clear is atomic), and an operation already under way keeps the key it found.
"""

from __future__ import annotations

from pkcs11 import KeyType, ObjectClass, Session
from pkcs11.types import Key


class KeyHandles:
    def __init__(self) -> None:
        self._found: dict[tuple[ObjectClass, str], Key] = {}

    def __len__(self) -> int:
        return len(self._found)

    def key(self, session: Session, object_class: ObjectClass, key_type: KeyType, label: str) -> Key:
        """The key of `object_class` labelled `label`, found once; raises what session.get_key raises."""
        found = self._found.get((object_class, label))
        if found is None:
            found = session.get_key(object_class=object_class, key_type=key_type, label=label)
            self._found[(object_class, label)] = found
        return found

    def forget(self, label: str) -> None:
        for found in [found for found in self._found if found[1] == label]:
            self._found.pop(found, None)

    def forget_all(self) -> None:
        self._found.clear()
