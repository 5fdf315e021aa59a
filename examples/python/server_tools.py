"""Staging fixtures for Django functional tests, done with roadie.

Replaces a hand-written SSH helper (Fabric and friends): roadie reaches the
staging server with your ssh config and known_hosts, applies the site's .env,
refuses production, and reports in JSON. Put roadie on PATH; it finds
roadie.yaml from the current directory, or set ROADIE_INVENTORY. Set
ROADIE_PERSIST=60s for the test run and every call after the first reuses
one SSH connection (host keys and safeguards are still checked per call).
"""
import json
import subprocess


class RoadieError(Exception):
    pass


def _task(target, task, **params):
    """Run a roadie task on the one host of `target`; its JSON result."""
    command = ["roadie", "--json", "task", target, task]
    for name, value in params.items():
        command += ["--param", f"{name}={value}"]
    result = subprocess.run(command, capture_output=True, text=True)
    events = [json.loads(line) for line in result.stdout.splitlines() if line]
    hosts = [event for event in events if event["event"] == "host"]
    if result.returncode != 0 or not hosts or hosts[0]["status"] != "ok":
        raise RoadieError(f"roadie {task} on {target} failed ({result.returncode}): {result.stderr.strip()}")
    return hosts[0]


def reset_database(target):
    """Empty the staging database (manage.py flush)."""
    _task(target, "flush")


def create_session_on_server(target, email):
    """A session key for `email`, logged in on the staging site."""
    return _task(target, "create_session", email=email)["captured"]["session_key"]
