# Run on a host by `roadie debug TARGET --stacks` and `--stacks-after`
# (python3 -c THIS MODE VALUE LOCALS): the Python processes to look at (MODE
# "tests": every pytest process and the processes under it, xdist workers
# included; "pid": VALUE; "match": command lines matching the regular
# expression VALUE; "marker": the Python processes of one roadie run, whose
# environment has ROADIE_RUN=VALUE), then each one's stacks from
# `py-spy dump --json`, as one JSON document on stdout.
import json
import os
import re
import shutil
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


def of_run(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            marked = ("ROADIE_RUN=%s" % value).encode() in f.read().split(b"\0")
        return marked and os.path.basename(os.readlink("/proc/%d/exe" % pid)).startswith("python")
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
                      if p not in me and pattern.search(" ".join(argv)))
    picked = {p for p, (_, argv) in found.items() if p not in me and is_pytest(argv)}
    grew = True
    while grew:
        under = {p for p, (ppid, _) in found.items() if ppid in picked and p not in me}
        grew = not under <= picked
        picked |= under
    return sorted(picked)


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
        interpreter = argv[0] if os.path.isabs(argv[0]) else "python3"
        entry["problem"] = "no_py_spy"
        entry["venv_bin"] = os.path.dirname(interpreter)
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
