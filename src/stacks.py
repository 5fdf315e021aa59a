# Run on a host by `roadie debug TARGET --stacks` and `--stacks-after`
# (python3 -c THIS MODE VALUE LOCALS): the Python processes to look at (MODE
# "tests": every pytest process and the processes under it, xdist workers
# included; "pid": VALUE; "match": Python processes whose command line
# matches the regular expression VALUE; "marker": the Python processes of one roadie run, whose
# environment has ROADIE_RUN=VALUE), then each one's stacks from
# `py-spy dump --json` (or, without py-spy, from the dump faulthandler writes
# on SIGUSR1 where the process registered it), as one JSON document on stdout.
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

mode, value, with_locals = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
# "running": each process's age and the note roadie's pytest plugin keeps of
# the test it runs (py-spy's stack only where there is no note).
running = len(sys.argv) > 4 and sys.argv[4] == "running"


def processes():
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if argv:
            found[int(name)] = (ppid, argv)
    return found


def is_pytest(argv):
    names = [os.path.basename(a) for a in argv[:2]]
    if "pytest" in names or "py.test" in names:
        return True
    return any(argv[i:i + 2] == ["-m", "pytest"] for i in range(len(argv) - 1))


def is_python(pid, argv):
    """By its executable; by its command line where that may not be read
    (another user's process)."""
    try:
        program = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        program = argv[0]
    return os.path.basename(program).startswith("python")


def of_run(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            marked = ("ROADIE_RUN=%s" % value).encode() in f.read().split(b"\0")
        return marked and is_python(pid, [""])
    except OSError:
        return False


def chosen(found):
    me = {os.getpid(), os.getppid()}
    if mode == "marker":
        return sorted(p for p in found if p not in me and of_run(p))
    if mode == "pid":
        return [int(value)] if int(value) in found else []
    if mode == "match":
        pattern = re.compile(value)
        return sorted(p for p, (_, argv) in found.items()
                      if p not in me and pattern.search(" ".join(argv)) and is_python(p, argv))
    picked = {p for p, (_, argv) in found.items() if p not in me and is_pytest(argv)}
    tree, grew = set(picked), True
    while grew:
        under = {p for p, (ppid, _) in found.items() if ppid in tree and p not in me}
        grew = not under <= tree
        tree |= under
    # The Python processes under pytest (xdist workers), not the programs
    # its tests run.
    return sorted(picked | {p for p in tree if is_python(p, found[p][1])})


def py_spy(pid, argv):
    """py-spy on PATH, else beside the process's own interpreter or script."""
    places = [shutil.which("py-spy")]
    for first in argv[:2]:
        if not os.path.isabs(first):
            first = os.path.join("/proc/%d/cwd" % pid, first)
        places.append(os.path.join(os.path.dirname(first), "py-spy"))
    for place in places:
        if place and os.access(place, os.X_OK):
            return os.path.realpath(place)
    return None


def age(pid):
    """How long the process has run, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        return max(0.0, up - started / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def note(pid):
    """What roadie's pytest plugin noted of the test the process runs."""
    for directory in {tempfile.gettempdir(), "/tmp"}:
        try:
            with open(os.path.join(directory, "roadie-running-%d.json" % pid)) as f:
                noted = json.load(f)
            noted["for"] = max(0.0, time.time() - float(noted["since"]))
            return noted
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def faulthandler_dump(pid):
    """Where py-spy is missing: the stacks the process's faulthandler writes
    to its stderr on SIGUSR1, when it registered it (a handler for SIGUSR1,
    or the signal would kill it) and its stderr is a file to read them from.
    (threads, None), or (None, why not)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            caught = next(int(l.split()[1], 16) for l in f if l.startswith("SigCgt:"))
        if not caught & (1 << (signal.SIGUSR1 - 1)):
            return None, "it has no handler for SIGUSR1 (faulthandler.register(signal.SIGUSR1) was not called)"
        stderr = os.readlink("/proc/%d/fd/2" % pid)
        if not os.path.isfile(stderr):
            return None, "its stderr (%s) is not a file to read the dump from" % stderr
        start = os.path.getsize(stderr)
        os.kill(pid, signal.SIGUSR1)
        text, end = "", time.time() + 3
        while time.time() < end:
            time.sleep(0.2)
            with open(stderr, "rb") as f:
                f.seek(start)
                now = f.read().decode("utf-8", "replace")
            if now and now == text:
                break
            text = now
    except (OSError, StopIteration, ValueError) as e:
        return None, "faulthandler's dump could not be had: %s" % e
    threads = []
    for line in text.splitlines():
        head = re.match(r"(Current thread|Thread) (0x[0-9a-f]+) \(most recent call first\):", line)
        frame = re.match(r'\s+File "(.*)", line (\d+) in (.*)', line)
        if head:
            threads.append({"thread_id": int(head.group(2), 16), "thread_name": None,
                            "active": head.group(1) == "Current thread", "frames": []})
        elif frame and threads:
            threads[-1]["frames"].append({"name": frame.group(3), "filename": frame.group(1),
                                          "line": int(frame.group(2))})
    if not threads:
        return None, "faulthandler wrote no stacks to %s" % stderr
    return threads, None


def ptrace_scope():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


report = []
found = processes()
for pid in chosen(found):
    ppid, argv = found[pid]
    entry = {"pid": pid, "ppid": ppid, "command": " ".join(argv)}
    if running:
        entry["age"] = age(pid)
        entry["note"] = note(pid)
        if entry["note"] is not None:
            report.append(entry)
            continue
    tool = py_spy(pid, argv)
    if tool is None:
        threads, why = faulthandler_dump(pid)
        if threads is not None:
            entry["threads"] = threads
            entry["via"] = "faulthandler"
        else:
            interpreter = argv[0] if os.path.isabs(argv[0]) else "python3"
            entry["problem"] = "no_py_spy"
            entry["venv_bin"] = os.path.dirname(interpreter)
            entry["said"] = why
    else:
        command = [tool, "dump", "--pid", str(pid), "--json"] + (["--locals"] if with_locals else [])
        try:
            ran = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            if ran.returncode == 0:
                entry["threads"] = json.loads(ran.stdout.decode("utf-8", "replace"))
            else:
                said = ran.stderr.decode("utf-8", "replace").strip()
                entry["problem"] = "ptrace" if "ermission" in said or "ptrace" in said else "py_spy_failed"
                entry["said"] = said[-2000:]
                entry["ptrace_scope"] = ptrace_scope()
                entry["uid"] = os.getuid()
        except subprocess.TimeoutExpired:
            entry["problem"] = "py_spy_failed"
            entry["said"] = "py-spy did not finish within 30 s"
        except ValueError as e:
            entry["problem"] = "py_spy_failed"
            entry["said"] = "py-spy's output was not JSON: %s" % e
    report.append(entry)
json.dump(report, sys.stdout)
