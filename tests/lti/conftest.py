"""The LTI test platform: one server for the session, forgotten between tests."""

import pytest

from tests.lti.platform import Platform


@pytest.fixture(scope="session")
def lti_platform():
    platform = Platform()
    yield platform
    platform.stop()


@pytest.fixture(autouse=True)
def _forget_lti_platform(request):
    """Each test starts from an empty platform, without starting it for tests that don't ask."""
    if "lti_platform" in request.fixturenames:
        request.getfixturevalue("lti_platform").reset()
