"""The fixtures of roadie's own plugin tests: the demo site, reached over
HTTP through a tunnel the API opens (SITE_ADDRESS: where the site listens,
as the server sees it). tests/it/python.rs runs these suites against a
real sshd host with the demo Django site."""
import http.client
import os

import pytest


@pytest.fixture(scope="session")
def site(roadie_target):
    """GET / of the site: its body, with a session cookie if given."""
    with roadie_target.tunnel(os.environ["SITE_ADDRESS"]) as local:

        def get(session_key=None):
            connection = http.client.HTTPConnection(local.host, local.port, timeout=30)
            headers = {"Cookie": "sessionid=" + session_key} if session_key else {}
            connection.request("GET", "/", headers=headers)
            response = connection.getresponse()
            body = response.read().decode()
            assert response.status == 200, body
            return body

        yield get
