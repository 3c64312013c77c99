"""The one spelling of a request path that routing, the ACL and storage all see.

Vault never answers for `secret/app/../other`: Go's HTTP mux redirects any path with `.` or `..`
segments or repeated slashes to its cleaned form, so the ACL only ever judges clean paths. The core
does the same here, once, before routing and authorisation: `..` and `.` segments are resolved, empty
segments dropped, a trailing slash kept (it means a folder). A `..` that would climb above the API
root is refused, as are control characters. Percent-escapes are NOT decoded again (the HTTP edge
decoded them once; decoding twice is how `%252e%252e` becomes `..`), and Unicode is left alone: the
ACL compares the exact string that is then routed and stored, so look-alike characters (a Cyrillic
"a" U+0430, a "‥") name different paths and widen nothing.
"""

from __future__ import annotations

import re

from engine.errors import BadRequest
from engine.request import Op

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WRITES = frozenset({Op.CREATE, Op.UPDATE, Op.PATCH})


def normalize_request_path(path: str) -> str:
    if _CONTROL.search(path):
        raise BadRequest("invalid request path: control characters are not allowed")
    if "." not in path and "//" not in path and not path.startswith("/"):
        return path  # no '.', '..' or empty segment: already clean (the common case, every request)
    folder = path.endswith("/")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not segments:
                raise BadRequest("relative paths not supported")  # '..' above the API root
            segments.pop()
        else:
            segments.append(segment)
    clean = "/".join(segments)
    return clean + "/" if folder and clean else clean


def refuse_write_to_folder(op: Op, path: str) -> None:
    """Vault refuses writes to a path ending in '/' (handleCancelableRequest, before anything else):
    for key-value backends it is ambiguous (a key named "foo/" or a forgotten key below folder
    "foo/"?). Not wired into the core yet: existing tests write to "secret/" and "sys/mounts/x/"."""
    if op in _WRITES and path.endswith("/"):
        raise BadRequest("cannot write to a path ending in '/'")
