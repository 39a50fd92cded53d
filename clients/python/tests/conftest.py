"""Tests of the pytest-strata plugin: inner test files run with pytester in a subprocess
(the plugin active through its entry point, as a user gets it) against the real server
binary ($STRATA_BIN, else `strata` on PATH)."""

import os
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SOURCE = Path(__file__).resolve().parents[1] / "pytest_strata"


def pytest_configure(config):
    # The tests drive the installed package: make sure it is this tree's code, not an
    # older install (pip install ./clients/python copies the files).
    try:
        import pytest_strata
    except ImportError:
        raise pytest.UsageError("pytest-strata is not installed: pip install ./clients/python")
    installed = Path(pytest_strata.__file__).resolve().parent
    if installed != SOURCE:
        for source in SOURCE.glob("*.py"):
            copy = installed / source.name
            if not copy.exists() or copy.read_bytes() != source.read_bytes():
                raise pytest.UsageError(f"the installed pytest-strata ({installed}) differs from {SOURCE} "
                                        f"({source.name}): pip install ./clients/python again")


@pytest.fixture(scope="session")
def strata_bin():
    """The server binary, as an absolute path (the inner runs have another working directory)."""
    path = os.environ.get("STRATA_BIN") or shutil.which("strata")
    if not path:
        pytest.fail("set STRATA_BIN to a strata binary (make pytest-plugin does) or put strata on PATH",
                    pytrace=False)
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        pytest.fail(f"STRATA_BIN={path} is not an executable file", pytrace=False)
    return path


@pytest.fixture
def inner(pytester, strata_bin, monkeypatch):
    """pytester with STRATA_BIN set to an absolute path; runs the inner session in a subprocess."""
    monkeypatch.setenv("STRATA_BIN", strata_bin)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    for name in list(os.environ):
        if name.startswith("AWS_") or (name.startswith("STRATA_") and name != "STRATA_BIN"):
            monkeypatch.delenv(name)
    return pytester
