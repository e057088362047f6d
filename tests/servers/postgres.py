"""A real PostgreSQL server: the system's binaries (Debian's postgresql package puts
them in /usr/lib/postgresql/NN/bin), initdb and the postmaster run as a throw-away
user of their own when the tests run as root (initdb refuses root), in a directory
of their own. It listens on a Unix socket only, with fsync off: nothing in it must
survive a power cut.

Logins over the socket are trusted, except PASSWORD_ROLE's, which needs its password
(SCRAM), for the tests of state_db_password.
"""

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from urllib.parse import quote

from .process import START_TIMEOUT, STOP_TIMEOUT, ServerProcess

SUPERUSER = 'ftadmin'
PASSWORD_ROLE = 'ftsecret'


def bin_dir() -> str | None:
    """The directory of the newest installed server's programs, or None."""
    def version(path):
        found = re.search(r'/postgresql/(\d+)/', path)
        return int(found[1]) if found else 0

    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=version)
    initdb = found[-1] if found else shutil.which('initdb')
    return os.path.dirname(initdb) if initdb else None


def available() -> bool:
    return bin_dir() is not None


class PostgresServer(ServerProcess):
    """Starts with `setup()` then `start()`; `url(db)` is a state_db value."""

    name = 'postgres'

    def __init__(self):
        self.user = None
        if os.getuid() == 0:
            from .users import make_user
            self.user = make_user('ftwpg')
            root = self.user.home
        else:
            root = tempfile.mkdtemp(prefix='filetransfer-pg-')
        super().__init__(root)
        self.bin = bin_dir()
        self.data = os.path.join(root, 'data')
        self.password = secrets.token_urlsafe(12)
        self._databases = 0

    def _as_user(self) -> dict:
        return {'user': self.user.uid, 'group': self.user.gid} if self.user else {}

    def _tool(self, name: str, *args, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run([os.path.join(self.bin, name), *args], capture_output=True,
                              text=True, cwd=self.root, timeout=120, **self._as_user())
        if check and done.returncode:
            raise RuntimeError(f'{name} failed ({done.returncode}): {done.stdout}{done.stderr}')
        return done

    def setup(self) -> 'PostgresServer':
        self._tool('initdb', '-D', self.data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8',
                   '--locale=C', '--no-sync')
        with open(os.path.join(self.data, 'pg_hba.conf'), 'w') as fh:
            fh.write(f'local all {PASSWORD_ROLE} scram-sha-256\n'
                     'local all all trust\n')
        return self

    def argv(self) -> list[str]:
        return [os.path.join(self.bin, 'postgres'), '-D', self.data, '-k', self.root,
                '-p', str(self.port), '-c', 'listen_addresses=', '-c', 'fsync=off',
                '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off']

    def start(self) -> None:
        with open(self.output_path, 'ab') as output:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=output,
                                         stderr=output, cwd=self.root, start_new_session=True,
                                         **self._as_user())
        deadline = time.monotonic() + START_TIMEOUT
        while self._tool('pg_isready', '-h', self.root, '-p', str(self.port),
                         check=False).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f'postgres did not start\n{self.logs()}')
            time.sleep(0.05)
        self.sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                 f"'{PASSWORD_ROLE}') THEN CREATE ROLE {PASSWORD_ROLE} LOGIN "
                 f"PASSWORD '{self.password}'; END IF; END $$")

    def stop(self) -> None:
        """A fast shutdown (SIGINT: sessions are ended), then for good."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        super().stop()

    def stop_immediately(self) -> None:
        """`pg_ctl stop -m immediate`: every process ends at once, as in a crash."""
        self._tool('pg_ctl', 'stop', '-D', self.data, '-m', 'immediate')
        self.proc.wait(STOP_TIMEOUT)

    def remove(self) -> None:
        if self.user is not None:
            from .users import remove_user
            remove_user(self.user)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- for the tests -------------------------------------------------------
    def url(self, db: str, user: str = SUPERUSER) -> str:
        return f'postgresql://{user}@{quote(self.root, safe="")}:{self.port}/{db}'

    def connect(self, db: str = 'postgres', **kwargs):
        import psycopg
        return psycopg.connect(host=self.root, port=self.port, user=SUPERUSER, dbname=db,
                               autocommit=True, **kwargs)

    def sql(self, query: str, params=(), db: str = 'postgres') -> list:
        with self.connect(db) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def new_database(self) -> 'TestDatabase':
        """A new empty database (each test has its own: advisory locks and the
        state's tables are per database)."""
        self._databases += 1
        name = f'test{self._databases}_{secrets.token_hex(3)}'
        self.sql(f'CREATE DATABASE {name}')
        self.sql(f'GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}', db=name)
        return TestDatabase(self, name)


class TestDatabase:
    """A database of the server: ``url`` is its state_db value (as the superuser)."""

    __test__ = False

    def __init__(self, server: PostgresServer, name: str):
        self.server = server
        self.name = name
        self.url = server.url(name)

    def sql(self, query: str, params=()) -> list:
        return self.server.sql(query, params, db=self.name)
