"""roadie's Python API: a target (an environment, a host) and what tests do
with it, over roadie's ``--json`` event lines (one roadie process per call)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ._program import program
from .errors import RoadieCommandFailed, RoadieConnectionError, RoadieError, RoadieRefused

#: The ``error_kind`` values that mean the host was not reached or logged in to.
CONNECTION_KINDS = frozenset(["connect", "connect_timeout", "host_key", "auth", "connection_lost", "protocol"])

#: How many lines of a failed command's stderr its exception carries.
STDERR_TAIL_LINES = 20

Event = Dict[str, Any]


class Completed(NamedTuple):
    """A command that ran on a host and exited with code 0 (or, with
    ``check=False``, any code)."""

    host: str
    exit_code: int
    stdout: str
    stderr: str


class Address(NamedTuple):
    """The local end of a tunnel; ``str()`` gives ``HOST:PORT``."""

    host: str
    port: int

    def __str__(self) -> str:
        return "%s:%d" % (self.host, self.port)


def _events(stdout: str) -> List[Event]:
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def _lines(events: Sequence[Event], stream: str) -> str:
    lines = [e["line"] + "\n" for e in events if e["event"] == "output" and e.get("stream") == stream]
    return "".join(lines)


def _tail(text: str) -> str:
    return "".join(text.splitlines(True)[-STDERR_TAIL_LINES:])


def _error_for(event: Event, code: Optional[int], stderr: str) -> RoadieError:
    """The exception for a host event (or an error event) that did not go well."""
    host = event.get("host")
    kind = event.get("error_kind") or event.get("kind") or ""
    message = event.get("error") or event.get("message") or event.get("login") or stderr.strip()
    message = message or "roadie exited with code %s" % code
    status = event.get("status")
    if status == "refused" or kind == "refused":
        lock = event.get("lock")
        return RoadieRefused(
            "%s: refused by the %s safeguard: %s" % (host, lock or "?", message) if host else message,
            host=host,
            lock=lock,
            exit_code=code,
        )
    if kind in CONNECTION_KINDS:
        return RoadieConnectionError("%s: %s" % (host, message) if host else message, host=host, kind=kind, exit_code=code)
    if status == "failed":
        step = event.get("failed_step") or {}
        exit_code = event.get("exit_code", code) if not step else step.get("exit_code", code)
        tail = _tail(step.get("stderr", stderr) if step else stderr)
        what = "step %r" % step["name"] if step else "the command"
        signal_name = event.get("signal")
        how = "was killed by %s" % signal_name if signal_name else "exited with %s" % exit_code
        return RoadieCommandFailed(
            "%s: %s %s%s" % (host, what, how, ":\n" + tail if tail else ""),
            host=host,
            exit_code=exit_code,
            stderr=tail,
            step=step.get("name"),
        )
    return RoadieError("%s: %s" % (host, message) if host else message, host=host, exit_code=code)


class Target:
    """A roadie target: an environment, a host, or ``ENV/HOST`` of roadie.yaml.

    The calls work on one host: name one of several as ``ENV/HOST``. Each
    call runs the roadie program once; the connection is kept between calls
    (``persist``, roadie's ``--persist``: every call after the first opens
    its channel on one logged-in connection, host keys and safeguards still
    checked per call). ``persist=None`` logs in each time.

    ``inventory`` is the roadie.yaml to use (default: ``$ROADIE_INVENTORY``,
    else roadie.yaml in the current directory or a parent); ``confirm``
    names the protected environment that change steps may touch (roadie's
    ``--confirm``); ``options`` are more of roadie's global options
    (``["--connect-timeout", "5"]``).
    """

    def __init__(
        self,
        name: str,
        *,
        inventory: Optional[Union[str, "os.PathLike[str]"]] = None,
        persist: Optional[str] = "60s",
        confirm: Optional[str] = None,
        options: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.inventory = os.fspath(inventory) if inventory is not None else None
        self.persist = persist
        self.confirm = confirm
        self.options = list(options)

    def __repr__(self) -> str:
        return "Target(%r)" % self.name

    def _command(self, *args: str) -> List[str]:
        command = [program(), "--json", "--persist", self.persist or "0"]
        if self.inventory is not None:
            command += ["--inventory", self.inventory]
        if self.confirm is not None:
            command += ["--confirm", self.confirm]
        return command + self.options + list(args)

    def _call(self, *args: str) -> Tuple[List[Event], int, str]:
        """Run roadie with ``args``; its events, exit code and stderr."""
        ran = subprocess.run(self._command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        return _events(ran.stdout), ran.returncode, ran.stderr

    def _one_host(self, events: List[Event], code: int, stderr: str, kind: str = "host") -> Event:
        """The one host's event of ``kind``; raises if anything went wrong."""
        for event in events:
            if event["event"] == "error":
                raise _error_for(event, code, stderr)
        found = [e for e in events if e["event"] == kind]
        if len(found) > 1:
            raise RoadieError(
                "target %r has %d hosts; name one as ENV/HOST" % (self.name, len(found)), exit_code=code
            )
        if not found:
            raise RoadieError(stderr.strip() or "roadie exited with code %d and said nothing" % code, exit_code=code)
        event = found[0]
        if event.get("status", "ok") != "ok" or event.get("error_kind"):
            raise _error_for(event, code, _lines(events, "stderr") or stderr)
        return event

    def check(self) -> None:
        """Log in to the host (to read only) and check its host key; raises
        :class:`RoadieConnectionError` naming the host if it cannot be reached."""
        events, code, stderr = self._call("hosts", self.name, "--check")
        hosts = [e for e in events if e["event"] == "host"]
        for event in events:
            if event["event"] == "error" or event.get("error_kind"):
                raise _error_for(event, code, stderr)
        if code != 0 or not hosts:
            raise RoadieError(stderr.strip() or "roadie hosts --check exited with %d" % code, exit_code=code)

    def run(
        self,
        command: Union[str, Sequence[str]],
        *,
        cwd: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        sudo: bool = False,
        destroy: bool = False,
        timeout: Optional[float] = None,
        check: bool = True,
    ) -> Completed:
        """Run ``command`` on the host: a string is a shell command line, a
        list a program and its arguments (each quoted).

        ``cwd`` is the remote directory, ``env`` variables for the command,
        ``destroy`` marks it as destroying data (the destroy safeguards
        apply), ``timeout`` is in seconds. Raises
        :class:`RoadieCommandFailed` on a non-zero exit unless ``check`` is
        false.
        """
        args = ["run", self.name]
        if cwd is not None:
            args += ["--cwd", cwd]
        for key, value in (env or {}).items():
            args += ["--env", "%s=%s" % (key, value)]
        if sudo:
            args.append("--sudo")
        if destroy:
            args.append("--destroy")
        if timeout is not None:
            args += ["--timeout", "%gs" % timeout]
        words = [command] if isinstance(command, str) else list(command)
        events, code, stderr = self._call(*(args + ["--"] + words))
        try:
            event = self._one_host(events, code, stderr)
        except RoadieCommandFailed:
            if check:
                raise
            event = next(e for e in events if e["event"] == "host")
        return Completed(
            host=event["host"],
            exit_code=event.get("exit_code", code),
            stdout=_lines(events, "stdout"),
            stderr=_lines(events, "stderr"),
        )

    def task(self, name: str, **params: Any) -> Dict[str, str]:
        """Run the playbook task ``name`` with ``params`` (``--param
        NAME=VALUE`` each); what its steps captured, by name."""
        args = ["task", self.name, name]
        for key, value in params.items():
            args += ["--param", "%s=%s" % (key, value)]
        event = self._one_host(*self._call(*args))
        return dict(event.get("captured") or {})

    def env(self, *keys: str, reveal: bool = False) -> Dict[str, str]:
        """The server's ``.env`` (only ``keys``, if given), secret-looking
        values masked unless ``reveal``."""
        args = ["env", self.name] + list(keys)
        if reveal:
            args.append("--reveal")
        event = self._one_host(*self._call(*args), kind="env")
        return dict(event.get("values") or {})

    def reset_database(self) -> None:
        """Empty the site's database (the ``flush`` task: ``manage.py flush``)."""
        self.task("flush")

    def create_session(self, email: str) -> str:
        """A session key for ``email``, logged in on the site (the
        ``create_session`` task)."""
        captured = self.task("create_session", email=email)
        try:
            return captured["session_key"]
        except KeyError:
            raise RoadieError("the create_session task captured no session_key (it captured: %s)" % ", ".join(captured))

    @contextlib.contextmanager
    def tunnel(self, spec: Union[str, int]) -> Iterator[Address]:
        """A local forward to the host, as roadie's ``tunnel`` SPEC says
        (``5432``, ``LOCAL:PORT``, ``HOST:PORT`` as the server sees it, or a
        name from roadie.yaml); yields its local address, and closes it on
        leaving the ``with`` block."""
        process = subprocess.Popen(
            self._command("tunnel", self.name, str(spec)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
        )
        try:
            address = self._listening(process)
            yield address
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()

    def _listening(self, process: "subprocess.Popen[str]") -> Address:
        """The address of the tunnel ``process`` opened, once it listens; its
        later output is read on and dropped, so that it never blocks."""
        assert process.stdout is not None and process.stderr is not None
        seen = []
        for line in process.stdout:
            events = _events(line)
            seen.extend(events)
            listening = [e for e in events if e["event"] == "listening"]
            if listening:
                host, _, port = listening[0]["local"].rpartition(":")
                for stream in (process.stdout, process.stderr):
                    threading.Thread(target=stream.read, daemon=True).start()
                return Address(host.strip("[]"), int(port))
        code = process.wait()
        self._one_host(seen, code, process.stderr.read())
        raise RoadieError("roadie tunnel ended (exit code %d) before it listened" % code, exit_code=code)
