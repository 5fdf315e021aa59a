"""roadie's pytest plugin: staging fixtures and remote-debugger wiring.

It does nothing until configured. The target is ``--roadie-target ENV``,
else ``$ROADIE_TARGET``, else the ``roadie_target`` ini option; without one,
the fixtures skip their tests (saying so). A configured target that cannot
be reached is an error, never a skip.

Fixtures:

- ``roadie_target`` (session-scoped): the :class:`roadie.Target`, checked
  reachable once, its connection kept for the run (under pytest-xdist, one
  kept connection that every worker's calls share);
- ``staging_session``: a factory, ``staging_session("edith@example.com")``
  gives a session key for that user, logged in on the site;
- ``reset_staging``: the site's database emptied before the test.

``--roadie-pdb`` makes a failing test wait in a remote debugger (roadie's
:class:`roadie.remote_pdb.RemotePdb`) on a free port for
``--roadie-pdb-timeout`` seconds (default 600; 0 waits forever), then the
run carries on; ``roadie debug TARGET`` finds each waiting test, with its
pytest-xdist worker.

While a test runs, the process running it (each xdist worker) keeps a note
of it, ``roadie-running-PID.json`` in the temp dir (its id, worker, when it
began), so that ``roadie debug TARGET --running`` can say which test each
worker is in and for how long while the run goes on. That is the one thing
the plugin does unconfigured; ``-p no:roadie`` turns it off.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Callable, Generator, Iterator, Optional

import pytest

from ._target import Target
from .remote_pdb import post_mortem_of

#: The environment variable naming the target.
TARGET_VARIABLE = "ROADIE_TARGET"

#: How long a failing test waits for a debugger client by default, in seconds.
DEFAULT_PDB_TIMEOUT = 600.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("roadie", "roadie: staging fixtures and remote debugging")
    group.addoption(
        "--roadie-target",
        metavar="ENV",
        default=None,
        help="the roadie target (environment, host or ENV/HOST) the fixtures use (default: $%s, "
        "else the roadie_target ini option)" % TARGET_VARIABLE,
    )
    group.addoption(
        "--roadie-pdb",
        action="store_true",
        default=False,
        help="a failing test waits in a remote pdb on a free port (roadie debug TARGET finds it)",
    )
    group.addoption(
        "--roadie-pdb-timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_PDB_TIMEOUT,
        help="how long a failing test waits for a debugger client before the run carries on "
        "(default %g; 0 waits forever)" % DEFAULT_PDB_TIMEOUT,
    )
    parser.addini("roadie_target", "the roadie target the fixtures use (see --roadie-target)", default="")


def configured_target(config: pytest.Config) -> Optional[str]:
    """The target configured for this run: the option, the variable or the
    ini option, in that order; ``None`` when none is."""
    return config.getoption("roadie_target") or os.environ.get(TARGET_VARIABLE) or config.getini("roadie_target") or None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("roadie_pdb"):
        # In the environment, so that pytest-xdist's workers (started after
        # this) have it from their start, where `roadie debug` looks.
        os.environ["ROADIE_PDB_TIMEOUT"] = "%g" % config.getoption("roadie_pdb_timeout")


def _running_note() -> str:
    return os.path.join(tempfile.gettempdir(), "roadie-running-%d.json" % os.getpid())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Generator[None, None, None]:
    """Note the test this process is in, for ``roadie debug --running``
    (written whole, then renamed, so a reader never sees half a note)."""
    note = _running_note()
    about = {
        "pid": os.getpid(),
        "test": item.nodeid,
        "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
        "since": time.time(),
    }
    try:
        with open(note + ".part", "w") as f:
            json.dump(about, f)
        os.replace(note + ".part", note)
    except OSError:
        pass
    yield


def pytest_unconfigure(config: pytest.Config) -> None:
    try:
        os.remove(_running_note())
    except OSError:
        pass


def pytest_exception_interact(node: pytest.Item, call: "pytest.CallInfo[None]", report: pytest.TestReport) -> None:
    config = node.config
    if not config.getoption("roadie_pdb") or call.excinfo is None or not report.failed:
        return
    post_mortem_of(node, call, timeout=config.getoption("roadie_pdb_timeout"))


@pytest.fixture(scope="session")
def roadie_target(pytestconfig: pytest.Config) -> Target:
    """The configured roadie target, reachable (checked once per session)."""
    name = configured_target(pytestconfig)
    if name is None:
        pytest.skip(
            "no roadie target configured: pass --roadie-target ENV, set $%s, or set roadie_target "
            "in the pytest ini file" % TARGET_VARIABLE
        )
    target = Target(name)
    target.check()
    return target


@pytest.fixture
def staging_session(roadie_target: Target) -> Callable[[str], str]:
    """A factory: ``staging_session(email)`` is a session key for ``email``,
    logged in on the target's site."""
    return roadie_target.create_session


@pytest.fixture
def reset_staging(roadie_target: Target) -> Iterator[Target]:
    """The target's database emptied before the test; yields the target."""
    roadie_target.reset_database()
    yield roadie_target
