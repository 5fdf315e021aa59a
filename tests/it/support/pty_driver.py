"""Drive `roadie shell` as a person at a terminal would: run the command
given as arguments on a new pseudo-terminal of 40 rows and 120 columns, ask
the remote shell for its terminal size, resize the terminal to 50x100 and
ask again until the remote shell sees it, then type `exit 3`. Prints what
the terminal showed, then whether the terminal's settings were given back,
and exits with the command's exit code. Every wait has a deadline."""

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

DEADLINE = 30.0


def set_size(fd, rows, columns):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def main():
    master, slave = os.openpty()
    set_size(slave, 40, 120)
    before = termios.tcgetattr(slave)

    def controlling_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(
        sys.argv[1:],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
    )
    seen = bytearray()

    def read_until(needle, limit=DEADLINE):
        end = time.monotonic() + limit
        while needle not in seen:
            left = end - time.monotonic()
            if left <= 0 or child.poll() is not None:
                return False
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if ready:
                try:
                    seen.extend(os.read(master, 65536))
                except OSError:
                    return False
        return True

    # The marker is typed split ("MA''RK1"), so only the output has it whole.
    os.write(master, b"stty size; echo MA''RK1\n")
    ok = read_until(b"MARK1")
    resized = False
    if ok:
        set_size(master, 50, 100)
        end = time.monotonic() + DEADLINE
        attempt = 0
        while not resized and time.monotonic() < end:
            attempt += 1
            mark = b"MARK2-%d" % attempt
            os.write(master, b"stty size; echo MA''RK2-%d\n" % attempt)
            if not read_until(mark):
                break
            resized = b"50 100" in seen[seen.index(b"MARK1"):]
    os.write(master, b"exit 3\n")
    end = time.monotonic() + DEADLINE
    while child.poll() is None and time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen.extend(os.read(master, 65536))
            except OSError:
                break
    if child.poll() is None:
        child.kill()
        child.wait()
        sys.stdout.write("STILL RUNNING\n")
    after = termios.tcgetattr(slave)
    sys.stdout.write(seen.decode("utf-8", "replace"))
    sys.stdout.write("\nRESIZED\n" if resized else "\nNOT RESIZED\n")
    sys.stdout.write("RESTORED\n" if after == before else "NOT RESTORED\n")
    sys.stdout.flush()
    sys.exit(child.returncode if child.returncode is not None else 99)


main()
