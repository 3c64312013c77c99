"""`sealer policy fmt`'s formatter: HCL policy text laid out as Vault's hclfmt lays it out (two-space
indents by brace depth, `key = value`, the `=` of consecutive assignments aligned, at most one blank
line, none just inside braces), working line by line so comments stay where they are. The policy is
checked with the daemon's own parser first: text that would be refused is never rewritten."""

from __future__ import annotations

import re

from engine.policy.parser import PolicyError, parse_policy

INDENT = "  "
_ASSIGNMENT = re.compile(r'^("(?:[^"\\]|\\.)*"|[A-Za-z_][\w.-]*)\s*=\s*(.*)$')
_BLOCK_OPEN = re.compile(r'^(\w+(?:\s+"(?:[^"\\]|\\.)*")*)\s*\{\s*(.*)$')


class FormatError(ValueError):
    pass


def format_policy(text: str) -> str:
    try:
        parse_policy(text)
    except PolicyError as exc:
        raise FormatError(str(exc)) from None
    if text.lstrip().startswith("{") or "<<" in text:
        # JSON, or heredocs whose insides must not be touched: valid as written, left as written.
        return text if text.endswith("\n") else text + "\n"
    lines: list[tuple[int, str]] = []  # (depth, code without indent)
    depth = 0
    for raw in text.splitlines():
        line = _tidy(raw.strip())
        closes_first, net = _braces(line)
        if closes_first:
            depth = max(depth - closes_first, 0)
            net += closes_first
        lines.append((depth, line))
        depth = max(depth + net, 0)
    return _render(_drop_extra_blanks(lines))


def _tidy(line: str) -> str:
    if not line or line.startswith(("#", "//", "/*")):
        return line
    block = _BLOCK_OPEN.match(line)
    if block:
        head, rest = " ".join(block.group(1).split()), block.group(2)
        return f"{head} {{" + (f" {rest}" if rest else "")
    assignment = _ASSIGNMENT.match(line)
    if assignment:
        return f"{assignment.group(1)} = {assignment.group(2)}"
    return line


def _braces(line: str) -> tuple[int, int]:
    """(closing brackets before any code, net change in depth), outside strings and comments."""
    net = leading = 0
    in_string = escaped = False
    seen_code = False
    for index, char in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = seen_code = True
        elif char == "#" or line.startswith("//", index):
            break
        elif char in "{[":
            net += 1
            seen_code = True
        elif char in "}]":
            net -= 1
            if not seen_code:
                leading += 1
        elif not char.isspace() and char != ",":
            seen_code = True
    return leading, net


def _drop_extra_blanks(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for depth, line in lines:
        if not line:
            if not out or not out[-1][1] or out[-1][1].endswith(("{", "[")):
                continue
        elif line.startswith(("}", "]")):
            while out and not out[-1][1]:
                out.pop()
        out.append((depth, line))
    while out and not out[-1][1]:
        out.pop()
    return out


def _render(lines: list[tuple[int, str]]) -> str:
    rendered: list[str] = []
    index = 0
    while index < len(lines):
        # A run of single-line assignments at one depth: align their '='.
        end = index
        while end < len(lines) and _single_assignment(lines[end], lines[index][0]):
            end += 1
        if end - index > 1:
            width = max(len(lines[i][1].split(" = ", 1)[0]) for i in range(index, end))
            for i in range(index, end):
                key, value = lines[i][1].split(" = ", 1)
                rendered.append(INDENT * lines[i][0] + f"{key.ljust(width)} = {value}")
            index = end
            continue
        depth, line = lines[index]
        rendered.append(INDENT * depth + line if line else "")
        index += 1
    return "\n".join(rendered) + "\n"


def _single_assignment(entry: tuple[int, str], depth: int) -> bool:
    line_depth, line = entry
    if line_depth != depth or " = " not in line or not _ASSIGNMENT.match(line):
        return False
    _leading, net = _braces(line)
    return net == 0
