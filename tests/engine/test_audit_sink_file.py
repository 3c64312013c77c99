"""The file sink reads back its file's end (the last whole line, and any bytes of a line cut short after
it), however the lines fall across the chunks it reads, and cuts those bytes only from the file it looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.audit.sink_file as sink_file
from engine.audit.sink import FileTail
from engine.audit.sink_file import FileSink

CASES = [
    (b"", FileTail(None, 0, 0)),
    (b"abc", FileTail(None, 0, 3)),
    (b"a\n", FileTail(b"a\n", 2, 0)),
    (b"a\nbc\n", FileTail(b"bc\n", 5, 0)),
    (b"a\nbc\nde", FileTail(b"bc\n", 5, 2)),
    (b"x" * 10 + b"\n" + b"y" * 7 + b"\n" + b"z" * 5, FileTail(b"y" * 7 + b"\n", 19, 5)),
]


@pytest.mark.parametrize("chunk", [3, 64 * 1024])
async def test_tail_finds_the_last_whole_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(sink_file, "_TAIL_CHUNK", chunk)
    log = tmp_path / "audit.log"
    sink = FileSink(str(log))
    assert await sink.tail() == FileTail(None, 0, 0)  # no file yet
    for data, expected in CASES:
        log.write_bytes(data)
        assert await sink.tail() == expected, data


async def test_cut_removes_only_what_was_seen(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    sink = FileSink(str(log))
    log.write_bytes(b"one\ntw")
    tail = await sink.tail()
    with log.open("ab") as file:
        file.write(b"o\n")  # the file changed since: the cut must not happen
    await sink.cut_incomplete(tail)
    assert log.read_bytes() == b"one\ntwo\n"

    log.write_bytes(b"one\ntw")
    await sink.cut_incomplete(await sink.tail())
    assert log.read_bytes() == b"one\n"
    await sink.write(b"two\n")
    await sink.close()
    assert log.read_bytes() == b"one\ntwo\n"


async def test_stdout_reads_nothing_back() -> None:
    sink = FileSink("stdout")
    assert not sink.reads_back and await sink.tail() == FileTail(None, 0, 0)
