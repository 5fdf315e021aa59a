"""``python -m roadie ARGS...``: run the roadie program with ARGS."""
import os
import subprocess
import sys

from ._program import program
from .errors import RoadieError


def main() -> int:
    """Run roadie with this process's arguments; its exit code."""
    try:
        path = program()
    except RoadieError as error:
        sys.stderr.write("roadie: error: %s\n" % error)
        return 2
    if os.name == "posix":
        os.execv(path, [path] + sys.argv[1:])
    return subprocess.call([path] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
