"""Parity tests need the MMPose reference; without it they are skipped, never failed."""

import pytest

from tests.parity.mmpose_ref import reference_python, run_reference


@pytest.fixture(scope="session")
def mmpose_ref():
    """``run_reference`` when the reference venv exists; skips the test otherwise."""
    if reference_python() is None:
        pytest.skip("MMPose reference not installed (../shared/tools/mmpose-ref.sh)")
    return run_reference


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/parity/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.parity)
