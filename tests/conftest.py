"""Test-wide settings: one intra-op thread; fixtures of a throw-away PostgreSQL server.

The models in the tests are tiny, so extra threads buy nothing, and on a shared 2-core machine
oversubscribed OpenMP threads slow small kernels down by an order of magnitude.
"""

import itertools
import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server on 127.0.0.1 (`tests/pg.py`), for the whole session.

    Skipped where none can be started (no binaries or driver here), except in CI (CI=true),
    where that is a failure: CI installs the dev extra, which brings one.
    """
    import pg

    try:
        server = pg.PostgresServer().start()
    except pg.ServerUnavailable as err:
        reason = f"no PostgreSQL server could be started: {err}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """The URL of a new, empty database on `postgres_server`, one per test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:40].lower()
    return postgres_server.create_database(f"{name}_{os.getpid()}_{next(_databases)}")


_databases = itertools.count()
