"""Every ceremony step, for the people in the room and whoever reviews it later: which ceremony, its
nonce, what happened, and facts such as a share's public index and the progress. Never a share's value,
a key, an OTP or a token."""

from __future__ import annotations

import logging

log = logging.getLogger("sealer.ceremony")


def step(kind: str, nonce: str, event: str, **facts: object) -> None:
    details = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in facts.items())
    log.info("%s [nonce %s]: %s%s", kind, nonce or "-", event, f" ({details})" if details else "")


def progress(count: int, required: int) -> str:
    return f"{count} of {required}"
