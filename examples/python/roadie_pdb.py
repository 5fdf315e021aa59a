"""A remote pdb that pytest's --pdbcls can build without arguments.

    REMOTE_PDB_PORT=7200 pytest --pdb --pdbcls=roadie_pdb:RemotePdb

pytest builds the --pdbcls class with no arguments, so remote-pdb's own
class (which needs a host and a port) cannot be used as it is. This one reads
them from the environment: REMOTE_PDB_HOST (default 127.0.0.1) and
REMOTE_PDB_PORT (default 0: any free port). Like remote-pdb it says
"RemotePdb session open at HOST:PORT, waiting for connection ..." on stderr
and serves one client (nc, telnet, `roadie debug --attach`).

So that an unwatched CI run is never blocked forever, it waits at most
ROADIE_PDB_TIMEOUT seconds (default 600; 0 waits forever) for a client, and
then lets the test run carry on. While it waits, it leaves a note for
`roadie debug` naming the test: roadie-pdb-PID-PORT.json in the temp dir.
"""
import json
import os
import pdb
import socket
import sys
import tempfile


class RemotePdb(pdb.Pdb):
    def __init__(self):
        host = os.environ.get("REMOTE_PDB_HOST", "127.0.0.1")
        port = int(os.environ.get("REMOTE_PDB_PORT", "0"))
        timeout = float(os.environ.get("ROADIE_PDB_TIMEOUT", "600"))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        host, port = listener.getsockname()[:2]
        note = os.path.join(tempfile.gettempdir(), f"roadie-pdb-{os.getpid()}-{port}.json")
        with open(note, "w") as f:
            json.dump({"port": port, "test": os.environ.get("PYTEST_CURRENT_TEST", "")}, f)
        sys.stderr.write(f"RemotePdb session open at {host}:{port}, waiting for connection ...\n")
        sys.stderr.flush()
        listener.settimeout(timeout or None)
        self._connection = None
        try:
            self._connection, address = listener.accept()
        except socket.timeout:
            sys.stderr.write(f"RemotePdb: nobody attached within {timeout:g}s; carrying on\n")
        finally:
            listener.close()
            os.unlink(note)
        if self._connection is None:
            super().__init__(stdin=open(os.devnull), stdout=open(os.devnull, "w"))
            return
        sys.stderr.write(f"RemotePdb accepted connection from {address}\n")
        # Separate files for reading and writing: one "rw" file drops what it
        # has read ahead (lines a client sent together) each time it writes.
        self._reader = self._connection.makefile("r")
        self._writer = self._connection.makefile("w")
        super().__init__(stdin=self._reader, stdout=self._writer)
        self.prompt = "(Pdb) "

    def interaction(self, *args, **kwargs):
        if self._connection is None:
            return None  # nobody is watching: carry on
        return super().interaction(*args, **kwargs)

    def _close(self):
        if self._connection is not None:
            self._reader.close()
            self._writer.close()
            self._connection.close()
            self._connection = None

    def do_continue(self, arg):
        result = super().do_continue(arg)
        self._close()
        return result

    do_c = do_cont = do_continue

    def do_quit(self, arg):
        result = super().do_quit(arg)
        self._close()
        return result

    do_q = do_exit = do_quit
    do_EOF = do_quit
