"""roadie for Python test suites.

    import roadie

    staging = roadie.Target("staging")
    staging.reset_database()
    key = staging.create_session("edith@example.com")
    with staging.tunnel(5432) as address:
        ...  # connect to address.host, address.port

Every call runs the roadie program installed with this package (``roadie
--json ...``) and reads its events; failures raise :class:`RoadieError` or
one of its kinds: :class:`RoadieRefused` (a safeguard refused; ``lock``),
:class:`RoadieConnectionError` (``host`` not reached) and
:class:`RoadieCommandFailed` (``host``, ``exit_code``, ``stderr``).

The pytest plugin (:mod:`roadie.plugin`) gives the fixtures
``roadie_target``, ``staging_session`` and ``reset_staging``, and
``--roadie-pdb``.
"""
from ._program import program
from ._target import Address, Completed, Target
from .errors import RoadieCommandFailed, RoadieConnectionError, RoadieError, RoadieRefused

__all__ = [
    "Address",
    "Completed",
    "RoadieCommandFailed",
    "RoadieConnectionError",
    "RoadieError",
    "RoadieRefused",
    "Target",
    "program",
]
