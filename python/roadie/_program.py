"""Finding the roadie program: the one this package was installed with."""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from .errors import RoadieError


def program() -> str:
    """The path of the roadie program.

    ``$ROADIE_PROGRAM`` if set; else the one installed with this package (in
    the scripts directory of its Python, a virtualenv's ``bin/``); else
    ``roadie`` on ``PATH`` (a ``pip install --user`` puts it there).
    """
    chosen = os.environ.get("ROADIE_PROGRAM")
    if chosen:
        return chosen
    name = "roadie.exe" if sys.platform == "win32" else "roadie"
    candidate = os.path.join(sysconfig.get_path("scripts"), name)
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return found
    raise RoadieError(
        "cannot find the roadie program: install roadie with pip (pip install ./python), "
        "put it on PATH, or set ROADIE_PROGRAM to its path"
    )
