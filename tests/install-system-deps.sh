#!/bin/sh
# Installs the system programs the tests use as real servers, when root;
# otherwise says what to install. Under CI=true a missing program is an error.
missing=""
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing="$missing openssh-server"
# the Aspera account of the tests runs its programs with a Python every user can read
[ -x /usr/bin/python3 ] || missing="$missing python3"
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit $?
fi
echo "the tests need these packages:$missing (install them as root, e.g. apt-get install$missing)" >&2
[ "${CI:-}" = true ] && exit 1
exit 0
