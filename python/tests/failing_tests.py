"""Three tests that fail, for --roadie-pdb under pytest-xdist (run by name:
pytest does not collect this file on its own)."""
import pytest


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fails(n):
    x = 40 + n
    assert x == 0
