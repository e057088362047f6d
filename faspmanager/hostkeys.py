"""SSH host key fingerprints in the spellings ascp's ``--check-sshfp`` takes: SHA-1 and
MD5 hex (with or without colons, any case) and OpenSSH's ``SHA256:base64``."""

from __future__ import annotations

import base64
import hashlib


def fingerprints(key_blob: bytes) -> set[str]:
    """The normalized fingerprints of a host key (its wire-format blob)."""
    sha1 = hashlib.sha1(key_blob).hexdigest()
    md5 = hashlib.md5(key_blob).hexdigest()
    sha256 = base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip('=')
    return {sha1, md5, f'SHA256:{sha256}'}


def normalize(fingerprint: str) -> str:
    """A fingerprint as ``fingerprints()`` spells it."""
    text = fingerprint.strip()
    if text.upper().startswith('SHA256:'):
        return 'SHA256:' + text[7:].rstrip('=')
    if text.upper().startswith(('SHA1:', 'MD5:')):
        text = text.split(':', 1)[1]
    return text.replace(':', '').lower()


def matches(fingerprint: str, key_blob: bytes) -> bool:
    """Whether ``fingerprint`` (any accepted spelling) names the key."""
    return normalize(fingerprint) in fingerprints(key_blob)
