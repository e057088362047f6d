#!/bin/sh
# Installs the system programs the tests use as real servers, when root;
# otherwise says what to install. Under CI=true a missing program is an error.
#
# OpenSSH's sshd and PostgreSQL are ordinary packages. vsftpd, ProFTPD (mod_tls and mod_sftp are
# in proftpd-mod-crypto) and Pure-FTPd cannot be installed side by side (each
# provides and conflicts with ftp-server) and would start as system services:
# their packages are unpacked into a cache directory instead, outside the work
# tree so that every clone and worktree of the user shares one copy, and the
# tests run the binaries from there (tests/servers/unpacked.py). Their shared
# libraries (the lib* packages of their Depends) are installed normally.
FTP_PACKAGES="vsftpd proftpd-core proftpd-mod-crypto pure-ftpd"
UNPACKED="${FILETRANSFER_TEST_SERVERS:-${XDG_CACHE_HOME:-$HOME/.cache}/filetransfer-tests/servers}"
STAMP="$UNPACKED/packages"            # the packages unpacked, then their libraries

is_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
updated=""
apt_update() {
    [ -n "$updated" ] || apt-get update -qq
    updated=yes
}
fail() {
    echo "$*" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 0
}

unpack_ftp_servers() {
    work=$(mktemp -d) || return 1
    log="$work/log"
    # apt's download user cannot write into root's temp dirs
    if ! (cd "$work" && apt-get download -o APT::Sandbox::User=root $FTP_PACKAGES >"$log" 2>&1); then
        is_root && apt_update && (cd "$work" && apt-get download -o APT::Sandbox::User=root \
            $FTP_PACKAGES >"$log" 2>&1) || { cat "$log" >&2; rm -rf "$work"; return 1; }
    fi
    rm -rf "$UNPACKED.new" && mkdir -p "$UNPACKED.new/root" || return 1
    libraries=""
    for deb in "$work"/*.deb; do
        dpkg -x "$deb" "$UNPACKED.new/root" || { rm -rf "$work"; return 1; }
        libraries="$libraries $(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
            sed 's/|.*//; s/(.*)//; s/ //g' | grep '^lib')"
    done
    rm -rf "$work"
    echo "$FTP_PACKAGES" >"$UNPACKED.new/packages"
    echo $libraries | tr ' ' '\n' | sort -u >>"$UNPACKED.new/packages"
    rm -rf "$UNPACKED" && mv "$UNPACKED.new" "$UNPACKED"
}

missing=""
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing=" openssh-server"
# the Aspera account of the tests runs its programs with a Python every user can read
[ -x /usr/bin/python3 ] || missing="$missing python3"
# strace: tests/test_durable.py reads the command's fsync calls
command -v strace >/dev/null 2>&1 || missing="$missing strace"
# PostgreSQL's server programs (initdb, postgres, pg_ctl): the tests start a server of
# their own (tests/servers/postgres.py), the package's own cluster is not used
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 ||
    missing="$missing postgresql"
if [ "$(head -n 1 "$STAMP" 2>/dev/null)" != "$FTP_PACKAGES" ]; then
    echo "unpacking $FTP_PACKAGES into $UNPACKED"
    unpack_ftp_servers || fail "cannot download and unpack $FTP_PACKAGES"
fi
for package in $(tail -n +2 "$STAMP"); do
    dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' ||
        missing="$missing $package"
done
[ -n "$missing" ] || exit 0
if is_root; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    apt_update && apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1 ||
        { cat "$log" >&2; rm -f "$log"; exit 1; }
    rm -f "$log"
    exit 0
fi
fail "the tests need these packages:$missing (install them as root, e.g. apt-get install$missing)"
