"""A throw-away PostgreSQL server for the tests, on 127.0.0.1 in a temporary folder.

The server binaries come from the `pgserver` wheel (a dev dependency: PostgreSQL 16 built into
a PyPI package, so CI needs no system package) or, failing that, from a system installation
(`PG_BINDIR`, `pg_ctl` on PATH, or Debian's /usr/lib/postgresql/<version>/bin). Only the
binaries are used: `pgserver`'s own launcher listens on a Unix socket only, adds a system
user and changes permissions up the install path when run as root, none of which a test
should do.

PostgreSQL refuses to run as root. Under root (as CI may be) the server runs as the
unprivileged user `nobody`, from a copy of the binaries when `nobody` cannot reach them where
they are installed (a virtual environment under /root, say).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The user the server runs as when the tests run as root.
UNPRIVILEGED = "nobody"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (no binaries, no driver, or it failed)."""


def find_bindir() -> Path | None:
    """The folder holding `initdb`, `pg_ctl` and `postgres`, or None where there is none.

    Returns
    -------
    pathlib.Path or None
        `PG_BINDIR` if set, else the `pgserver` wheel's binaries, else a system installation.
    """
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    # find_spec, not import: importing pgserver sets up its launcher's locks and folders
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                         reverse=True)
    for bindir in candidates:
        if all((bindir / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the server may still lose it to a race;
    `start` then tries another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 with trust authentication, in a temporary folder that
    `stop` deletes.

    Parameters
    ----------
    bindir : pathlib.Path or None
        The binaries; None: `find_bindir()`.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.root: Path | None = None
        self.port: int | None = None
        self._user: pwd.struct_passwd | None = None

    # -- running commands as the server's user ----------------------------------------------
    def _run(self, exe: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs = {}
        if self._user is not None:  # root: drop to the unprivileged user for every command
            kwargs = dict(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        return subprocess.run([str(self.bindir / exe), *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=self.root, **kwargs)

    def _usable_bindir(self) -> None:
        """Under root, copy the binaries where the unprivileged user can run them, if it
        cannot where they are (their lib/ and share/ come along: the build finds them relative
        to bin/)."""
        if self._user is None:
            return
        try:
            if self._run("postgres", "--version", timeout=30).returncode == 0:
                return
        except OSError:
            pass
        # a wheel's binaries find the libraries auditwheel bundled in <package>.libs beside
        # the package through $ORIGIN/../../../<package>.libs: keep that layout
        install = self.bindir.parent
        package = install.parent
        copy = self.root / "binaries" / package.name / install.name
        for part in ("bin", "lib", "share"):
            if (install / part).is_dir():
                shutil.copytree(install / part, copy / part, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, self.root / "binaries" / libs.name, symlinks=True)
        for path in [self.root / "binaries", *(self.root / "binaries").rglob("*")]:
            os.chown(path, self._user.pw_uid, self._user.pw_gid, follow_symlinks=False)
        self.bindir = copy / "bin"

    # -- life cycle --------------------------------------------------------------------------
    def start(self, attempts: int = 3) -> PostgresServer:
        """Create a cluster in a new temporary folder and start the server.

        Parameters
        ----------
        attempts : int, default 3
            Ports to try: another process may take the free port found before the server
            binds it.

        Returns
        -------
        PostgresServer
            self, running.

        Raises
        ------
        ServerUnavailable
            Without binaries or the psycopg2 driver, or when initdb or the server fails (the
            message holds their output and the server log's tail).
        """
        if self.bindir is None:
            raise ServerUnavailable("no PostgreSQL binaries: install the dev extra (pgserver) "
                                    "or a system PostgreSQL, or set PG_BINDIR")
        if importlib.util.find_spec("psycopg2") is None:
            raise ServerUnavailable("the psycopg2 driver is not installed (psycopg2-binary, "
                                    "in the dev extra)")
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(UNPRIVILEGED)
            except KeyError as err:
                raise ServerUnavailable(f"running as root and there is no user "
                                        f"{UNPRIVILEGED!r} to run PostgreSQL as") from err
        # /tmp, not pytest's tmp_path: its folders are private to the user running the tests
        self.root = Path(tempfile.mkdtemp(prefix="txl_pg_"))
        try:
            if self._user is not None:
                os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
            self._usable_bindir()
            done = self._run("initdb", "-D", "data", "-U", "postgres", "--auth=trust",
                             "--encoding=UTF8", "--no-locale", "--no-sync", timeout=120)
            if done.returncode != 0:
                raise ServerUnavailable(f"initdb failed: {(done.stdout + done.stderr)[-2000:]}")
            last = ""
            for _ in range(attempts):
                self.port = _free_port()
                # durability is no concern for a throw-away server: fsync off makes it faster
                options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                           "-c synchronous_commit=off -c full_page_writes=off "
                           "-c max_connections=50")
                done = self._run("pg_ctl", "-D", "data", "-l", "server.log", "-w", "-t", "60",
                                 "-o", options, "start", timeout=90)
                if done.returncode == 0:
                    return self
                log = self.root / "server.log"
                last = (done.stdout + done.stderr
                        + (log.read_text(errors="replace") if log.exists() else ""))[-2000:]
            raise ServerUnavailable(f"the server did not start: {last}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away) and delete its folder."""
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", "data", "-m", "immediate", "-w", "stop", timeout=60)
            except (OSError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    # -- databases ---------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` (psycopg2 driver)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the empty database `name` and return its URL.

        Parameters
        ----------
        name : str
            A plain identifier (letters, digits, underscores).

        Returns
        -------
        str
            Its URL.
        """
        import psycopg2

        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain database name: {name!r}")
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=10)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started `PostgresServer`, stopped and deleted on exit.

    Raises
    ------
    ServerUnavailable
        When none can be started.
    """
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
