"""The shortcuts taken on every request's way to its handler give the answers the long way gives: a
backend's routing skips a pattern only when the path cannot match it (its literal start), the router
finds a mount with one lookup per slash, and an already clean path is left as it is."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import BadRequest
from engine.framework import SpecialPaths, literal_prefix
from engine.policy.request_path import normalize_request_path
from engine.request import Op
from tests.engine.token_harness import Engine, start_engine_with_every_mount, stop_engine


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = await start_engine_with_every_mount()
    yield engine
    await stop_engine(engine)


async def test_every_mounted_pattern_only_matches_paths_starting_with_its_literal_prefix(engine: Engine) -> None:
    patterns = {path.pattern for route in engine.core._loaded().mounts.router.routes() for path in route.backend.paths}
    assert len(patterns) > 100  # every engine's paths, not a handful

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        for pattern in sorted(patterns):
            sample = data.draw(st.from_regex(re.compile(pattern), fullmatch=True), label=pattern)
            assert sample.startswith(literal_prefix(pattern)), (pattern, sample)

    check()


@pytest.mark.parametrize(("pattern", "prefix"), [
    ("data/(?P<path>.+)", "data/"), ("lookup-self", "lookup-self"), ("a|b", ""), ("(a|b)c", ""),
    ("x(a|b)", "x"), ("ab?c", "a"), ("abc*", "ab"), ("ab{2}", "a"), ("x\\.y", "x"), ("roles/?$", "roles"),
    ("(?i)abc", ""), ("\\(a|b\\)", ""),
])
def test_literal_prefix(pattern: str, prefix: str) -> None:
    assert literal_prefix(pattern) == prefix


async def test_the_router_finds_each_mount_and_nothing_else(engine: Engine) -> None:
    router = engine.core._loaded().mounts.router
    for route in router.routes():
        mount = route.entry.path
        assert router.match(mount + "some/key") == (route, "some/key")
        assert router.match(mount.rstrip("/")) == (route, "")
    assert router.match("nowhere/at/all") is None
    assert router.match("kv") is None  # a prefix of "kv2/" names no mount


@given(st.lists(st.sampled_from(["a", "b", ".", "..", "", "x.y", "é"]), max_size=6), st.booleans(), st.booleans())
def test_clean_paths_shortcut_agrees_with_the_full_cleaning(segments: list[str], lead: bool, trail: bool) -> None:
    path = ("/" if lead else "") + "/".join(segments) + ("/" if trail else "")

    def full(p: str) -> str:
        kept: list[str] = []
        for segment in p.split("/"):
            if segment in ("", "."):
                continue
            if segment == "..":
                if not kept:
                    raise BadRequest("relative paths not supported")
                kept.pop()
            else:
                kept.append(segment)
        clean = "/".join(kept)
        return clean + "/" if p.endswith("/") and clean else clean

    try:
        expected = full(path)
    except BadRequest:
        with pytest.raises(BadRequest):
            normalize_request_path(path)
        return
    assert normalize_request_path(path) == expected


def test_special_paths_exact_and_prefix() -> None:
    patterns = ("login", "login/*", "cert/ca")
    assert SpecialPaths.matches(patterns, "login")
    assert SpecialPaths.matches(patterns, "login/alice")
    assert SpecialPaths.matches(patterns, "cert/ca")
    assert not SpecialPaths.matches(patterns, "cert/ca/x")
    assert not SpecialPaths.matches(patterns, "logins")
    assert not SpecialPaths.matches((), "anything")
    assert SpecialPaths.matches(("*",), "anything")


def test_an_acls_remembered_answers_agree_with_a_fresh_acl_even_past_the_bound() -> None:
    from engine.policy import ACL, parse_policy
    from engine.policy.acl import _ANSWERS_KEPT

    text = '''
    path "secret/+/ro" { capabilities = ["read"] }
    path "secret/app/*" { capabilities = ["read", "list"] }
    path "secret/app/locked" { capabilities = ["deny"] }
    '''
    remembering = ACL([parse_policy(text, "p")])
    paths = [f"secret/{name}/{leaf}" for name in ("app", "x") for leaf in ("ro", "locked", "a")]
    paths += [f"secret/app/{n}" for n in range(_ANSWERS_KEPT + 10)]
    # Each (op, path) asked once of another ACL: worked out by walking its rules, never from memory.
    expected = {(op, path): ACL([parse_policy(text, "p")]).check(op, path) if path.endswith(("ro", "locked", "a"))
                else None for op in (Op.READ, Op.LIST) for path in paths}
    walker = ACL([parse_policy(text, "p")])
    for key in expected:
        expected[key] = expected[key] or walker.check(*key)
    for _ in range(2):  # the second round answers from memory (and, past the bound, from a cleared one)
        for (op, path), decision in expected.items():
            assert remembering.check(op, path) == decision, (op, path)
    assert remembering.check(Op.READ, "secret/app/locked").allowed is False
    assert remembering.check(Op.READ, "secret/x/ro").allowed is True
    assert remembering.check(Op.LIST, "secret/x/ro").allowed is False


async def test_remembered_routes_agree_with_routing_afresh(engine: Engine) -> None:
    backend = engine.core._loaded().mounts.router.match("secret/x")[0].backend  # type: ignore[index]
    paths = [f"key-{n}" for n in range(5000)] + ["a/b/c", "key-1"]  # more than it remembers
    first = [backend._route(path) for path in paths]
    again = [backend._route(path) for path in paths]
    assert again == first
    backend.__dict__.pop("_routes")
    assert [backend._route(path) for path in paths] == first
    assert all(captures == {"path": path} for path, (_, captures) in zip(paths, first, strict=True))
