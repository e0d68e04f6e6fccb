"""conftest.py: the `boot` marker and fixture of the system tests (the machinery is harness.py)."""

import os

import pytest

from harness import Boot, Pool, linux_images_missing

_boots = {}      # test node id -> Boot
_all = []        # every Boot started, to kill at the end


def _skipped(item):
    """Why a test cannot run on this build, or None. Only the Linux images are optional (they
    need Debian's archive once); `make check` builds them first."""
    if item.get_closest_marker("linux") and linux_images_missing():
        return "the Linux guest images are not built (`make linux`)"
    return None


def _marker_boot(item):
    """The Boot a test's @pytest.mark.boot(config, smp=, timeout=, interactive=) asks for."""
    m = item.get_closest_marker("boot")
    return Boot(*m.args, **m.kwargs) if m and not _skipped(item) else None


def pytest_configure(config):
    config.addinivalue_line("markers", "boot(config, smp=2, timeout=60, interactive=False, "
                            "icount=False, native=False, disk=None, readonly=False, partition=None, "
                            "net=False, guestfwd=(), uds=None, monitor=False): boot pocketvisor with "
                            "tests/configs/<config>.dts on QEMU, or with native=True the guest "
                            "harness.NATIVE[config] alone")
    config.addinivalue_line("markers", "linux: needs build/linux (`make linux`), else skipped")
    config.addinivalue_line("markers", "stress: a campaign run by `make stress`, not `make check`")


def pytest_runtest_setup(item):
    reason = _skipped(item)
    if reason:
        pytest.skip(reason)


def pytest_collection_finish(session):
    background = []
    for item in session.items:
        boot = _marker_boot(item)
        if boot:
            _boots[item.nodeid] = boot
            _all.append(boot)
            if not boot.interactive:
                background.append(boot)
    if background:
        jobs = int(os.environ.get("PV_TEST_JOBS", os.cpu_count() or 1))
        Pool(background, max(1, jobs))


def pytest_sessionfinish(session):
    for boot in _all:
        boot.kill()


@pytest.fixture
def boot(request):
    """The Boot for this test's `boot` marker; prints its transcript if the test fails."""
    b = _boots.get(request.node.nodeid)
    if b is None:
        pytest.fail("test uses the boot fixture without a @pytest.mark.boot(...) marker")
    if b.interactive:
        b.start()
    yield b
    b.kill()  # interactive boots never end by themselves
    print(b.transcript())  # shown by pytest only when the test failed
