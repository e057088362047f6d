#!/bin/sh
# Installs the programs `make bench` compares filetransfer with, the servers it starts
# and GNU time (which measures each tool's peak RSS), from Debian's packages, when root;
# otherwise says what is missing. A tool that stays missing is left out of the comparison.
missing=""
need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || missing="$missing $2"; }
need sshd openssh-server
need ssh openssh-client
need rsync rsync
need rclone rclone
need lftp lftp
[ -x /usr/bin/time ] || missing="$missing time"     # GNU time: peak RSS of each tool
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit $?
fi
echo "not installed (left out of the comparison):$missing" >&2
exit 0
