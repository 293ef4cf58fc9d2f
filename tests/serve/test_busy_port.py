"""``dreamwright serve --port P`` on a port that is taken: one line naming the port and what to do instead."""

from __future__ import annotations

import socket

from tests.cli.helpers import assert_one_line_error, run_dreamwright


def test_busy_port_is_one_line_naming_it():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = run_dreamwright("serve", "--host", "127.0.0.1", "--port", str(port), timeout=120)
    assert_one_line_error(proc, f"port {port} on 127.0.0.1 is already in use", "--port 0", "another --port")
    assert "Errno" not in proc.stderr


def test_unusable_host_is_one_line():
    proc = run_dreamwright("serve", "--host", "192.0.2.1", "--port", "0", timeout=120)  # TEST-NET: not ours
    assert_one_line_error(proc, "cannot listen on --host 192.0.2.1 --port 0")
