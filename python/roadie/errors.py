"""The exceptions roadie's Python API raises."""
from __future__ import annotations

from typing import Optional


class RoadieError(Exception):
    """roadie could not do what was asked (the base of roadie's exceptions).

    ``message`` is roadie's own explanation, ``exit_code`` roadie's exit code
    (see the README's exit codes), ``host`` the host concerned, if one was.
    """

    def __init__(self, message: str, *, host: Optional[str] = None, exit_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.exit_code = exit_code


class RoadieRefused(RoadieError):
    """A safeguard refused the host before anything was sent to it.

    ``lock`` names the safeguard that caught it (``protected_environment``,
    ``pinned_host_key``, ``server_marker``, ...).
    """

    def __init__(self, message: str, *, host: Optional[str], lock: Optional[str], exit_code: Optional[int] = 3) -> None:
        super().__init__(message, host=host, exit_code=exit_code)
        self.lock = lock


class RoadieConnectionError(RoadieError):
    """The host could not be reached, logged in to, or its key was refused.

    ``kind`` says which (``connect``, ``connect_timeout``, ``host_key``,
    ``auth``, ``connection_lost``, ``protocol``).
    """

    def __init__(self, message: str, *, host: Optional[str], kind: str, exit_code: Optional[int] = 4) -> None:
        super().__init__(message, host=host, exit_code=exit_code)
        self.kind = kind


class RoadieCommandFailed(RoadieError):
    """The command (or a task's step) ran and exited with a non-zero code.

    ``exit_code`` is the command's, ``stderr`` the end of what it wrote on
    stderr, ``step`` the failing step's name for a task.
    """

    def __init__(
        self, message: str, *, host: Optional[str], exit_code: Optional[int], stderr: str, step: Optional[str] = None
    ) -> None:
        super().__init__(message, host=host, exit_code=exit_code)
        self.stderr = stderr
        self.step = step
