"""The pytest plugin (entry point `pytest11: strata`): options and fixtures.

Nothing starts until a test asks for a fixture, so having the plugin installed costs a
test run that does not use it nothing.
"""

from __future__ import annotations

import shlex
from typing import Any, Callable, Iterator, List, Optional

import pytest

from .buckets import create_bucket, delete_bucket, unique_bucket_name
from .server import DEFAULT_STARTUP_TIMEOUT, StrataError, StrataServer, find_binary, start_server

# The snapshot strata_baseline restores (one of the server's 16).
BASELINE_SNAPSHOT = "pytest-baseline"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("strata", "Strata S3 server (pytest-strata)")
    group.addoption("--strata-bin", dest="strata_bin", default=None, metavar="PATH",
                    help="strata executable (default: $STRATA_BIN, else the strata_bin ini "
                         "option, else `strata` on PATH)")
    group.addoption("--strata-arg", dest="strata_args", action="append", default=[], metavar="ARG",
                    help="extra argument for `strata serve` of the strata_server fixture, "
                         "repeatable; use the = form: --strata-arg=--region=eu-west-1")
    group.addoption("--strata-startup-timeout", dest="strata_startup_timeout", type=float, default=None,
                    metavar="SECONDS", help=f"how long the server may take to be ready "
                                            f"(default {DEFAULT_STARTUP_TIMEOUT:g})")
    parser.addini("strata_bin", "strata executable, used when --strata-bin and $STRATA_BIN are not given",
                  default="")
    parser.addini("strata_args", "extra arguments for `strata serve` of the strata_server fixture "
                                 "(shell-style words; --strata-arg options come after them)",
                  type="args", default=[])
    parser.addini("strata_startup_timeout", "seconds the server may take to be ready", default="")


def _binary(config: pytest.Config) -> str:
    import os

    base = str(config.invocation_params.dir)
    explicit = config.getoption("strata_bin")
    if not explicit and not os.environ.get("STRATA_BIN"):
        ini = config.getini("strata_bin")
        if ini:
            # An ini path is relative to the ini file's directory.
            explicit = ini
            if config.inipath is not None:
                base = str(config.inipath.parent)
    return find_binary(explicit, base_dir=base)


def _startup_timeout(config: pytest.Config) -> float:
    value = config.getoption("strata_startup_timeout")
    if value is None:
        ini = config.getini("strata_startup_timeout")
        value = float(ini) if str(ini).strip() else DEFAULT_STARTUP_TIMEOUT
    return value


def _session_args(config: pytest.Config) -> List[str]:
    args: List[str] = list(config.getini("strata_args"))
    for option in config.getoption("strata_args") or []:
        # "--strata-arg='--region eu-west-1'" is two words; one word stays as it is.
        args.extend(shlex.split(option) if " " in option.strip() else [option])
    return args


def _start(config: pytest.Config, args: List[str], startup_timeout: Optional[float] = None) -> StrataServer:
    try:
        binary = _binary(config)
        return start_server(binary, args, startup_timeout=startup_timeout or _startup_timeout(config))
    except StrataError as error:
        pytest.fail(f"pytest-strata: {error}", pytrace=False)
        raise  # not reached


@pytest.fixture(scope="session")
def strata_server(pytestconfig: pytest.Config) -> Iterator[StrataServer]:
    """One `strata serve --ephemeral --port 0` for the whole session (plus the ini option
    strata_args and --strata-arg options); stopped at the end of the session, whatever the
    tests did. Has endpoint_url, access_key, secret_key, region, boto3_kwargs(), client()."""
    server = _start(pytestconfig, _session_args(pytestconfig))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def strata_server_factory(pytestconfig: pytest.Config) -> Iterator[Callable[..., StrataServer]]:
    """Starts servers of the test's own: `strata_server_factory("--region", "eu-west-1")`
    runs `strata serve --ephemeral --port 0` with exactly those arguments (not the session's
    strata_args). Every server it started is stopped after the test."""
    servers: List[StrataServer] = []

    def start(*args: Any, startup_timeout: Optional[float] = None) -> StrataServer:
        server = _start(pytestconfig, [str(a) for a in args], startup_timeout)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture(scope="session")
def s3_client(strata_server: StrataServer) -> Any:
    """A boto3 S3 client for strata_server: path-style addressing, SigV4, the server's
    region and root credentials."""
    return strata_server.client("s3")


@pytest.fixture
def s3_bucket(s3_client: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a new bucket on strata_server, unique to this test; afterwards every
    object version, delete marker and open multipart upload in it is removed and the bucket
    deleted."""
    if "strata_baseline" in request.fixturenames:
        # The restore comes first: it would remove a bucket made before it.
        request.getfixturevalue("strata_baseline")
    name = unique_bucket_name(request.node.name)
    create_bucket(s3_client, name)
    try:
        yield name
    finally:
        delete_bucket(s3_client, name)


@pytest.fixture
def strata_faults(strata_server: StrataServer) -> Iterator[StrataServer]:
    """strata_server, for fault rules: `strata_faults.add_faults({...})` makes chosen
    requests fail (an S3 error, latency, a bandwidth cap, a reset connection, a response
    cut short); `strata_faults.faults()` lists them with hit counts. Every rule is removed
    after the test."""
    strata_server.clear_faults()
    try:
        yield strata_server
    finally:
        strata_server.clear_faults()


@pytest.fixture(scope="session")
def strata_seed(strata_server: StrataServer) -> Any:
    """The data every strata_baseline test starts from. Override it in your conftest.py
    (session scope) to make buckets, objects and bucket settings; it runs once, and the
    baseline snapshot is saved right after it. The default adds nothing: the baseline is
    the store as it is then (on the session's server, empty unless earlier tests left
    something there)."""
    return None


@pytest.fixture(scope="session")
def strata_baseline_snapshot(strata_server: StrataServer, strata_seed: Any) -> str:
    """The name of the baseline snapshot (`pytest-baseline`), saved once per session the
    first time a test asks for it: the store as strata_seed left it."""
    strata_server.save_snapshot(BASELINE_SNAPSHOT)
    return BASELINE_SNAPSHOT


@pytest.fixture
def strata_baseline(strata_server: StrataServer, strata_baseline_snapshot: str) -> StrataServer:
    """strata_server, with the store restored to the baseline snapshot before the test:
    every test that asks for it starts from exactly what strata_seed made (buckets,
    objects, versions, settings, open uploads), whatever earlier tests changed. With
    s3_bucket, the restore comes before the bucket is made."""
    strata_server.restore_snapshot(strata_baseline_snapshot)
    return strata_server
