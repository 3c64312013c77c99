"""Only engine/crypto/ may import cryptography's primitives (cryptography.hazmat)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "sealer", "hsm")
ALLOWED = REPO / "engine" / "crypto"


def hazmat_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if name.startswith("cryptography.hazmat")]
    return found


def test_the_boundary_check_sees_imports() -> None:
    assert hazmat_imports(ALLOWED / "aead.py")


def test_no_hazmat_outside_engine_crypto() -> None:
    offenders = {
        str(path.relative_to(REPO)): names
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if ALLOWED not in path.parents and (names := hazmat_imports(path))
    }
    assert offenders == {}
