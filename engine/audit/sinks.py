"""Registry of audit device types: type name -> factory(options) -> sink."""

from __future__ import annotations

from collections.abc import Callable

from engine.audit.sink import AuditSink
from engine.audit.sink_file import FileSink
from engine.audit.sink_socket import SocketSink
from engine.audit.sink_syslog import SyslogSink

SINK_TYPES: dict[str, Callable[[dict[str, str]], AuditSink]] = {
    "file": FileSink.from_options,
    "socket": SocketSink.from_options,
    "syslog": SyslogSink.from_options,
}
