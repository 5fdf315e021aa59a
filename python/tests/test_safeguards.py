"""Refusals and unreachable hosts, as exceptions (PROTECTED_HOST: the host
of the protected --roadie-target; UNREACHABLE: a target whose host is not
there)."""
import os

import pytest

import roadie


def test_a_reset_on_a_protected_host_is_refused_naming_the_lock(roadie_target):
    with pytest.raises(roadie.RoadieRefused) as refused:
        roadie_target.reset_database()
    assert refused.value.lock == "protected_environment"
    assert refused.value.host == os.environ["PROTECTED_HOST"]
    assert refused.value.exit_code == 3
    assert "protected_environment" in str(refused.value)


def test_an_unreachable_host_is_named():
    target = roadie.Target(os.environ["UNREACHABLE"])
    with pytest.raises(roadie.RoadieConnectionError) as failed:
        target.create_session("edith@example.com")
    assert failed.value.host == os.environ["UNREACHABLE_HOST"]
    assert failed.value.kind == "connect"
    assert failed.value.exit_code == 4
    assert str(failed.value).startswith(os.environ["UNREACHABLE_HOST"] + ": ")


def test_a_tunnel_to_a_protected_host_is_refused_unconfirmed(roadie_target):
    with pytest.raises(roadie.RoadieRefused) as refused:
        with roadie_target.tunnel(22):
            pass
    assert refused.value.lock == "protected_environment"
    assert refused.value.host == os.environ["PROTECTED_HOST"]
