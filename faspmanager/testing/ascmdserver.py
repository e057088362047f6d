"""The emulated Aspera server's ``ascmd``: request lines on stdin, TLV results on stdout
(the wire format of ``faspmanager.ascmdwire``), paths in the user's docroot space.

It sends its INFO result first, then one result per request: as_ls (a directory's
entries, or a file's own stat), as_du, as_md5sum, as_rm (files and whole trees),
as_mkdir (one level), as_mv, as_cp (files), as_info, as_df; an error result carries an
errno and its text. as_exit (or the end of input) ends it. Stats carry what a real
ascmd was seen to send: mode text, owner and group names, size, times as text and as
numbers, name (and a link's target).
"""

from __future__ import annotations

import errno
import grp
import hashlib
import os
import platform
import pwd
import shutil
import stat as stat_module
import sys
import time

from ..ascmdwire import Result, WireError, encode_result, split_request
from .hsts import Paths, ServerConfig

OPERANDS = {'ls': 1, 'du': 1, 'md5sum': 1, 'rm': 1, 'mkdir': 1, 'mv': 2, 'cp': 2, 'info': 0,
            'df': 0, 'exit': 0}


def _name(table, number: int) -> str:
    try:
        return table(number)[0]
    except KeyError:
        return str(number)


def stat_record(path: str, name: str) -> dict:
    st = os.lstat(path)
    record = {'name': name, 'size': st.st_size, 'zmode': stat_module.filemode(st.st_mode),
              'zuid': _name(pwd.getpwuid, st.st_uid), 'zgid': _name(grp.getgrgid, st.st_gid)}
    for key in ('ctime', 'mtime', 'atime'):
        seconds = int(getattr(st, f'st_{key}'))
        record[key] = seconds
        record[f'z{key}'] = time.strftime('%Y-%m-%d %H:%M', time.localtime(seconds))
    if stat_module.S_ISLNK(st.st_mode):
        record['symlink'] = os.readlink(path)
    return record


class Ascmd:
    def __init__(self, paths: Paths):
        self.paths = paths

    def info(self) -> bytes:
        uname = platform.uname()
        from importlib.metadata import PackageNotFoundError, version
        try:
            ours = version('filetransfer')
        except PackageNotFoundError:
            ours = 'unknown'
        return encode_result(Result.INFO, {
            'platform': f'{uname.system} {uname.release} {uname.version}',
            'version': f'ascmd-emulator {ours}', 'lang': 'C', 'territory': '', 'codeset': '',
            'dev': ['/']})

    def answer(self, line: str) -> bytes | None:
        """The result for one request line; None for as_exit."""
        try:
            words = split_request(line)
        except WireError as exc:
            return _error(errno.EINVAL, f'Invalid command: {exc}')
        if not words:
            return b''
        op = words[0][3:] if words[0].startswith('as_') else None
        if op not in OPERANDS or len(words) - 1 != OPERANDS[op]:
            return _error(errno.EINVAL, f'Invalid command: {words[0]}')
        if op == 'exit':
            return None
        try:
            local = [self.paths.local(arg) for arg in words[1:]]
            return getattr(self, f'op_{op}')(words[1:], local)
        except OSError as exc:
            return _error(exc.errno or errno.EIO, exc.strerror or str(exc))

    def op_ls(self, args, local):
        path = local[0]
        if os.path.isdir(path):
            return encode_result(Result.DIR, [stat_record(os.path.join(path, name), name)
                                              for name in sorted(os.listdir(path))])
        os.stat(path)        # a missing path (or a dangling link) is an error
        return encode_result(Result.FILE, stat_record(path, os.path.basename(path)))

    def op_du(self, args, local):
        size = files = dirs = failed_files = 0
        unreadable: list[OSError] = []
        for top, names, filenames in os.walk(local[0], onerror=unreadable.append):
            dirs += 1
            for name in filenames:
                try:
                    size += os.lstat(os.path.join(top, name)).st_size
                    files += 1
                except OSError:
                    failed_files += 1
        if not dirs:              # a file, or nothing (an error)
            unreadable.clear()
            st = os.stat(local[0])
            size, files = st.st_size, 1
        return encode_result(Result.SIZE, {'size': size, 'fcount': files, 'dcount': dirs,
                                           'failed_fcount': failed_files,
                                           'failed_dcount': len(unreadable)})

    def op_md5sum(self, args, local):
        digest = hashlib.md5()
        with open(local[0], 'rb') as fh:
            for block in iter(lambda: fh.read(1 << 20), b''):
                digest.update(block)
        return encode_result(Result.MD5SUM, {'md5sum': digest.hexdigest()})

    def op_rm(self, args, local):
        path = local[0]
        if os.path.isdir(path) and not os.path.islink(path):
            if path == self.paths.docroot:
                raise PermissionError(errno.EACCES, 'Permission denied')
            shutil.rmtree(path)
        else:
            os.remove(path)
        return encode_result(Result.SUCCESS)

    def op_mkdir(self, args, local):
        os.mkdir(local[0], 0o755)
        return encode_result(Result.SUCCESS)

    def op_mv(self, args, local):
        os.rename(local[0], local[1])
        return encode_result(Result.SUCCESS)

    def op_cp(self, args, local):
        shutil.copyfile(local[0], local[1])
        return encode_result(Result.SUCCESS)

    def op_info(self, args, local):
        return self.info()

    def op_df(self, args, local):
        return _error(errno.ENOSYS, 'Function not implemented')


def _error(number: int, text: str) -> bytes:
    return encode_result(Result.ERROR, {'errno': number, 'errstr': text})


def serve(config: ServerConfig, user: str, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    ascmd = Ascmd(config.paths_for(user))
    stdout.write(ascmd.info())
    stdout.flush()
    for raw in stdin:
        answer = ascmd.answer(raw.decode('utf-8', 'surrogateescape').rstrip('\r\n'))
        if answer is None:
            return 0
        stdout.write(answer)
        stdout.flush()
    return 0
