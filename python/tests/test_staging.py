"""The plugin's fixtures and the API against a staging host."""
import subprocess
import sys

import pytest

import roadie


def test_a_session_is_logged_in_on_the_site(staging_session, site):
    key = staging_session("edith@example.com")
    assert site(key) == "Logged in as edith@example.com\n"
    assert site() == "Not logged in\n"


@pytest.fixture
def made_before(roadie_target):
    """A session key made before reset_staging (asked for after it) runs."""
    return roadie_target.create_session("before@example.com")


def test_reset_staging_empties_the_database_before_the_test(made_before, reset_staging, site):
    assert site(made_before) == "Not logged in\n"
    assert isinstance(reset_staging, roadie.Target)


def test_env_is_masked_unless_revealed(roadie_target):
    assert roadie_target.env()["DJANGO_SECRET_KEY"] == "********"
    assert roadie_target.env("DJANGO_SECRET_KEY", reveal=True) == {"DJANGO_SECRET_KEY": "s3cret-key-value"}


def test_run_gives_the_output_and_a_failure_raises(roadie_target):
    done = roadie_target.run(["echo", "it's; here"])
    assert (done.exit_code, done.stdout, done.stderr) == (0, "it's; here\n", "")
    with pytest.raises(roadie.RoadieCommandFailed) as failed:
        roadie_target.run("echo boom >&2; exit 3")
    assert (failed.value.host, failed.value.exit_code, failed.value.stderr) == (done.host, 3, "boom\n")
    assert roadie_target.run("exit 5", check=False).exit_code == 5


def test_a_task_gives_what_it_captured(roadie_target):
    captured = roadie_target.task("create_session", email="task@example.com")
    assert len(captured["session_key"]) == 32


def test_python_m_roadie_runs_the_program():
    ran = subprocess.run([sys.executable, "-m", "roadie", "--version"], stdout=subprocess.PIPE, check=True)
    assert ran.stdout.decode().startswith("roadie ")
