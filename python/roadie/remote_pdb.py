"""A remote pdb for post-mortem debugging of tests on a server.

This file stands alone (only the standard library): ``roadie debug -- pytest``
uploads it as ``roadie_pdb.py``, and pytest's ``--pdbcls`` can build it
without arguments::

    REMOTE_PDB_PORT=7200 pytest --pdb --pdbcls=roadie_pdb:RemotePdb
    pytest --pdb --pdbcls=roadie.remote_pdb:RemotePdb    # with roadie installed

Loaded as a pytest plugin (``-p roadie_pdb``, as ``roadie debug --publish``
runs the tests) it makes every failing test wait in it, also under
pytest-xdist, which refuses ``--pdb``. The plugin's ``--roadie-pdb`` uses it
too. Settings not given come from the
environment: ``REMOTE_PDB_HOST`` (default 127.0.0.1), ``REMOTE_PDB_PORT``
(default 0: any free port) and ``ROADIE_PDB_TIMEOUT`` (seconds to wait for a
client, default 600; 0 waits forever). Like remote-pdb it says "RemotePdb
session open at HOST:PORT, waiting for connection ..." on stderr and serves
one client (nc, telnet, ``roadie debug --attach``); nobody attached within
the timeout, the test run carries on.

While it waits it leaves a note for ``roadie debug``,
``roadie-pdb-PID-PORT.json`` in the temp dir (``ROADIE_PDB_NOTES`` names
another directory: ``roadie debug --publish`` reads its own), naming the
test, the pytest-xdist worker, when it started and how long it waits; when
the session ends (continue, quit, timeout) the note says how, and it is
removed when the process exits (in roadie's own directory it is left for
roadie, which removes the directory).
"""
from __future__ import annotations

import atexit
import json
import os
import pdb
import socket
import sys
import tempfile
import time
from types import TracebackType
from typing import Any, List, Optional

_NOTES: List[str] = []


def _remove_notes() -> None:
    for path in _NOTES:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_remove_notes)


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "")


class RemotePdb(pdb.Pdb):
    """pdb served on a TCP port to one client.

    Arguments left out are read from the environment (see the module's
    documentation); ``test`` and ``worker`` default to what pytest and
    pytest-xdist say (``PYTEST_CURRENT_TEST``, ``PYTEST_XDIST_WORKER``).
    """

    def __init__(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        timeout: Optional[float] = None,
        test: Optional[str] = None,
        worker: Optional[str] = None,
    ) -> None:
        host = host or os.environ.get("REMOTE_PDB_HOST", "127.0.0.1")
        port = int(os.environ.get("REMOTE_PDB_PORT", "0") if port is None else port)
        if timeout is None:
            timeout = float(os.environ.get("ROADIE_PDB_TIMEOUT", "600"))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        host, port = listener.getsockname()[:2]
        notes = os.environ.get("ROADIE_PDB_NOTES") or tempfile.gettempdir()
        self._note = os.path.join(notes, "roadie-pdb-%d-%d.json" % (os.getpid(), port))
        self._about = {
            "pid": os.getpid(),
            "host": host,
            "port": port,
            "started": int(time.time()),
            "timeout": int(timeout),
            "test": _current_test() if test is None else test,
            "worker": os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker,
        }
        if not os.environ.get("ROADIE_PDB_NOTES"):
            _NOTES.append(self._note)  # roadie's own directory: roadie clears it
        self._write_note(state="waiting")
        sys.stderr.write("RemotePdb session open at %s:%d, waiting for connection ...\n" % (host, port))
        sys.stderr.flush()
        listener.settimeout(timeout or None)
        self._connection: Optional[socket.socket] = None
        try:
            self._connection, address = listener.accept()
        except socket.timeout:
            sys.stderr.write("RemotePdb: nobody attached within %gs; carrying on\n" % timeout)
            self._write_note(state="ended", ended="timeout")
        finally:
            listener.close()
        if self._connection is None:
            super().__init__(stdin=open(os.devnull), stdout=open(os.devnull, "w"))
            return
        self._write_note(state="attached")
        sys.stderr.write("RemotePdb accepted connection from %s\n" % (address,))
        # Separate files for reading and writing: one "rw" file drops what it
        # has read ahead (lines a client sent together) each time it writes.
        self._reader = self._connection.makefile("r")
        self._writer = self._connection.makefile("w")
        super().__init__(stdin=self._reader, stdout=self._writer)
        self.prompt = "(Pdb) "

    def _write_note(self, **state: str) -> None:
        note = dict(self._about, **state)
        partial = self._note + ".part"
        with open(partial, "w") as f:
            json.dump(note, f)
        os.replace(partial, self._note)

    def post_mortem(self, traceback: Optional[TracebackType]) -> None:
        """Stop in the frame where `traceback` ended, as pdb.post_mortem does."""
        self.reset()
        self.interaction(None, traceback)

    def interaction(self, *args: Any, **kwargs: Any) -> None:
        if self._connection is None:
            return None  # nobody is watching: carry on
        return super().interaction(*args, **kwargs)

    def _close(self, how: str) -> None:
        if self._connection is not None:
            self._reader.close()
            self._writer.close()
            self._connection.close()
            self._connection = None
            self._write_note(state="ended", ended=how)

    def do_continue(self, arg: str) -> Any:
        result = super().do_continue(arg)
        self._close("continue")
        return result

    do_c = do_cont = do_continue

    def do_quit(self, arg: str) -> Any:
        result = super().do_quit(arg)
        self._close("quit")
        return result

    do_q = do_exit = do_quit
    do_EOF = do_quit


def post_mortem_of(node: Any, call: Any, timeout: Optional[float] = None) -> None:
    """Wait in a :class:`RemotePdb` where the test `node` failed (`call`),
    pytest's output capture suspended meanwhile."""
    capture = node.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    try:
        debugger = RemotePdb(
            timeout=timeout,
            test=node.nodeid,
            worker=os.environ.get("PYTEST_XDIST_WORKER", ""),
        )
        debugger.post_mortem(call.excinfo.tb)
    finally:
        if capture is not None:
            capture.resume_global_capture()


def pytest_exception_interact(node: Any, call: Any, report: Any) -> None:
    """As a plugin (``-p roadie_pdb``): a failing test waits in a debugger."""
    if call.excinfo is not None and report.failed:
        post_mortem_of(node, call)
