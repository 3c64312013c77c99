"""PCR selections in tpm2-tools' syntax: "sha256:0,7", several banks joined by "+" ("sha1:0+sha256:7")."""

from __future__ import annotations

from dataclasses import dataclass

BANKS = ("sha1", "sha256", "sha384", "sha512", "sm3_256")
PCR_COUNT = 24


@dataclass(frozen=True)
class PcrSelection:
    banks: tuple[tuple[str, tuple[int, ...]], ...]

    def __str__(self) -> str:
        return "+".join(f"{bank}:{','.join(str(i) for i in indices)}" for bank, indices in self.banks)

    def names(self) -> list[str]:
        """Each selected PCR as "bank:index", in order."""
        return [f"{bank}:{index}" for bank, indices in self.banks for index in indices]


def parse_pcrs(text: str) -> PcrSelection:
    """Parse a selection; ValueError with a message saying what is wrong."""
    banks: list[tuple[str, tuple[int, ...]]] = []
    for part in text.split("+"):
        bank, sep, listed = part.strip().partition(":")
        bank = bank.strip().lower()
        if not sep or bank not in BANKS:
            raise ValueError(f"expected BANK:INDEX,INDEX... with BANK one of {', '.join(BANKS)} "
                             f"(e.g. \"sha256:0,7\"), got {part.strip()!r}")
        if bank in (seen for seen, _ in banks):
            raise ValueError(f"bank {bank} is given twice")
        indices: set[int] = set()
        for item in listed.split(","):
            item = item.strip()
            if not item.isdigit() or int(item) >= PCR_COUNT:
                raise ValueError(f"PCR indices are numbers from 0 to {PCR_COUNT - 1}, got {item!r} in {bank}")
            indices.add(int(item))
        banks.append((bank, tuple(sorted(indices))))
    return PcrSelection(tuple(banks))
