"""Request ids: version 4 UUIDs, as Vault's, never repeated."""

from __future__ import annotations

import os
import uuid

from engine.request import _ID_POOL_BYTES, new_request_id


def test_request_ids_are_version_4_uuids_and_unique_across_many_pool_refills() -> None:
    ids = [new_request_id() for _ in range(5 * _ID_POOL_BYTES // 16)]
    assert len(set(ids)) == len(ids)
    for value in ids[:: _ID_POOL_BYTES // 16 - 1]:  # around every refill
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_request_id()  # the pool now holds ids the parent has not used yet
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(write_end, new_request_id().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    assert child_id not in {new_request_id() for _ in range(_ID_POOL_BYTES // 16)}
