"""Throw-away system users with a password, for servers that log users in as
themselves (root only; root's own password is never touched)."""

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass


@dataclass
class User:
    name: str
    password: str
    home: str         # a directory of the user's own, outside root's 0700 temp dirs
    uid: int
    gid: int


def make_user(prefix: str, logs_in_home: bool = False) -> User:
    """A new user with a random password and a writable directory (``home``), which
    is its login directory with ``logs_in_home`` (else /nonexistent). `remove_user`
    deletes both."""
    name = f'{prefix}{secrets.token_hex(3)}'
    password = secrets.token_urlsafe(12)
    home = tempfile.mkdtemp(prefix='filetransfer-pwtest-')
    login_dir = home if logs_in_home else '/nonexistent'
    subprocess.run(['useradd', '--no-create-home', '-d', login_dir, '-s', '/bin/sh', name],
                   check=True, capture_output=True)
    subprocess.run(['chpasswd'], input=f'{name}:{password}', text=True, check=True)
    entry = pwd.getpwnam(name)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return User(name, password, home, entry.pw_uid, entry.pw_gid)


def remove_user(user: User) -> None:
    subprocess.run(['userdel', user.name], check=False, capture_output=True)
    shutil.rmtree(user.home, ignore_errors=True)


def give(user: User, path: str) -> None:
    """Makes ``path`` and everything below it the user's, as if the user had made it."""
    os.lchown(path, user.uid, user.gid)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), user.uid, user.gid)
