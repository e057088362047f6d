"""The FTP listing parsers, on lines real servers send (pyftpdlib, vsftpd, ProFTPD,
IIS in DOS mode). The servers of the other tests exercise them end to end."""

import calendar

import pytest

from filetransfer.endpoints.ftp.listing import parse_list_line, parse_mlsd_line
from filetransfer.endpoints.remote import Listed


@pytest.mark.parametrize('line,expected', [
    ('-rw-r--r--   1 owner    group          10 Jan 01 00:00 a b.txt',
     ('a b.txt', 'file', 10, None)),
    ('drwxr-xr-x    2 ftp      ftp          4096 Mar  5  2023 sub', ('sub', 'dir', 4096, None)),
    ('lrwxrwxrwx 1 u g 4 Jan 1 12:00 link -> target', ('link -> target', 'other', 4, None)),
    ('-rw-r--r-- 1 1000 5 Jan 01 00:00 no-group', ('no-group', 'file', 5, None)),
    ('-rw-r--r-- 1 1000 1000 7 Jan 01 00:00 numeric', ('numeric', 'file', 7, None)),
    ('-rw-r--r-- 1 u g 3 Jan 01 00:00  leading space', (' leading space', 'file', 3, None)),
    ('-rw-r--r--+ 1 u g 12345678901 Dec 31 23:59 big', ('big', 'file', 12345678901, None)),
    ('01-02-24  10:15AM       <DIR>          folder', ('folder', 'dir', None, None)),
    ('01-02-2024  10:15PM              1234 file name.txt', ('file name.txt', 'file', 1234, None)),
    ('total 12', None),
    ('', None),
])
def test_list_lines(line, expected):
    assert parse_list_line(line) == (expected and Listed(*expected))


def test_mlsd_lines():
    stamp = calendar.timegm((2024, 1, 2, 3, 4, 5))
    assert parse_mlsd_line('type=file;size=12;modify=20240102030405; name with space.txt') \
        == Listed('name with space.txt', 'file', 12, stamp)
    assert parse_mlsd_line('Type=Dir;Modify=20240102030405.123; Sub') \
        == Listed('Sub', 'dir', None, stamp)
    assert parse_mlsd_line('type=cdir;perm=el; /some/dir') == Listed('.', 'dir')
    assert parse_mlsd_line('type=pdir; ..') == Listed('..', 'dir')
    assert parse_mlsd_line('type=OS.unix=slink:/x;size=1; link').kind == 'other'
    assert parse_mlsd_line('type=file;size=x; bad-size') == Listed('bad-size', 'file')
    assert parse_mlsd_line('type=dir;UNIQUE=803g1a; sub').stamp == '803g1a'
    assert parse_mlsd_line('type=dir;unique=; sub').stamp is None
    assert parse_mlsd_line('no-facts-no-space') is None
