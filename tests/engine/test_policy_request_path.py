"""engine.policy.request_path: the single clean spelling of a request path."""

from __future__ import annotations

import pytest

from engine.errors import BadRequest
from engine.policy.request_path import normalize_request_path, refuse_write_to_folder
from engine.request import Op


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("secret/app/config", "secret/app/config"),
        ("/secret/app", "secret/app"),
        ("secret//app///config", "secret/app/config"),
        ("secret/./app/.", "secret/app"),
        ("secret/app/../other", "secret/other"),
        ("secret/app/../other/", "secret/other/"),
        ("secret/app/", "secret/app/"),
        ("secret/a/b/../../c", "secret/c"),
        ("secret/..", ""),
        ("", ""),
        ("/", ""),
        ("secret/%2e%2e/x", "secret/%2e%2e/x"),  # escapes were decoded once, at the HTTP edge
        ("secret/\u2025/x", "secret/\u2025/x"),  # no Unicode folding
        ("secret/...", "secret/..."),
    ],
)
def test_paths_are_cleaned_like_go_cleans_them(raw: str, clean: str) -> None:
    assert normalize_request_path(raw) == clean


@pytest.mark.parametrize("raw", ["..", "../secret", "secret/../../x", "a/b/../../../c"])
def test_climbing_above_the_root_is_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="relative paths not supported"):
        normalize_request_path(raw)


@pytest.mark.parametrize("raw", ["secret/a\x00b", "secret/\n/x", "secret/\x7f"])
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest, match="control characters"):
        normalize_request_path(raw)


def test_writes_to_a_folder_path_are_refused() -> None:
    for op in (Op.CREATE, Op.UPDATE, Op.PATCH):
        with pytest.raises(BadRequest, match="cannot write to a path ending in '/'"):
            refuse_write_to_folder(op, "secret/dir/")
        refuse_write_to_folder(op, "secret/dir")
    for op in (Op.READ, Op.LIST, Op.DELETE):
        refuse_write_to_folder(op, "secret/dir/")
