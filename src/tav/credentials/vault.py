"""Encrypts and decrypts credential data; remembers secret values to redact them.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) rather than raw AES-GCM: it
authenticates, carries a timestamp and a version byte, and ``MultiFernet`` gives key
rotation for free (decrypt with any key, ``rotate`` re-encrypts with the first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tav.credentials.errors import CredentialKeyError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

REDACTED = "***"
MIN_REDACTED_LENGTH = 4
"""Shorter secrets are not redacted: replacing every "abc" in a log would hide more than
it protects, and a secret that short protects nothing anyway."""


class Vault:
    """Encryption with keys from ``keys`` (newest first; called on every use, so a key
    source may change them), plus the set of known secret values for ``redact``."""

    def __init__(self, keys: Callable[[], list[bytes]] | list[bytes]) -> None:
        self._keys = keys if callable(keys) else (lambda: list(keys))
        self._fernet: tuple[list[bytes], MultiFernet] | None = None
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def fernet(self) -> MultiFernet:
        # Imported on first use: ``cryptography`` adds ~9 MB to a server that may never
        # store a credential.
        from cryptography.fernet import Fernet, MultiFernet

        keys = self._keys()
        if self._fernet is None or self._fernet[0] != keys:
            self._fernet = (keys, MultiFernet([Fernet(key) for key in keys]))
        return self._fernet[1]

    def encrypt(self, data: dict[str, Any]) -> bytes:
        return self.fernet().encrypt(json.dumps(data, separators=(",", ":")).encode())

    def decrypt(self, token: bytes) -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        try:
            plain = self.fernet().decrypt(token)
        except InvalidToken:
            raise CredentialKeyError(
                "cannot decrypt a stored credential: TAV_SECRET_KEY or the key file "
                "is not the key it was encrypted with"
            ) from None
        data: dict[str, Any] = json.loads(plain)
        return data

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the newest key."""
        from cryptography.fernet import InvalidToken

        try:
            return self.fernet().rotate(token)
        except InvalidToken:
            raise CredentialKeyError("cannot decrypt a stored credential with any key") from None

    # -- redaction ------------------------------------------------------------------------

    def remember(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if len(s) >= MIN_REDACTED_LENGTH} - self._secrets
        if new:
            self._secrets |= new
            self._pattern = None

    def redact(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***``."""
        if not self._secrets:
            return text
        if self._pattern is None:
            self._pattern = re.compile(_trie_pattern(self._secrets))
        return self._pattern.sub(REDACTED, text)

    def pending(self, text: str) -> int:
        """How many characters at the end of ``text`` may be the start of a secret: what a
        stream sent in pieces holds back until the next piece tells (``redact`` of a
        piece cannot see a secret cut in two)."""
        longest = 0
        for secret in self._secrets:
            start = max(len(text) - len(secret) + 1, 0)
            while (start := text.find(secret[0], start)) != -1 and len(text) - start > longest:
                if secret.startswith(text[start:]):
                    longest = len(text) - start
                    break
                start += 1
        return longest


def _trie_pattern(secrets: Iterable[str]) -> str:
    """One regular expression matching any of ``secrets``, longest first, as a trie.

    A credential registers a dozen forms (parts, encodings); ``a|b|c|...`` over a thousand
    of them tries each at every position of the text (40 ms for 100 KB), where the trie
    follows one branch per character (under 1 ms)."""
    trie: dict[str, Any] = {}
    for secret in secrets:
        node = trie
        for char in secret:
            node = node.setdefault(char, {})
        node[""] = {}  # a secret ends here
    return _node_pattern(trie)


def _node_pattern(node: dict[str, Any]) -> str:
    # A run of characters that neither branch nor end a secret is written out in a loop:
    # a long secret (a key in PEM) must not take one recursion level per character.
    run: list[str] = []
    while len(node) == 1 and "" not in node:
        char, node = next(iter(node.items()))
        run.append(re.escape(char))
    ends = "" in node
    branches = [re.escape(char) + _node_pattern(child) for char, child in node.items() if char]
    if not branches:
        return "".join(run)
    if len(branches) == 1 and not ends:
        return "".join(run) + branches[0]
    # Greedy "?": a longer secret through this node is tried before the one ending here.
    return "".join(run) + "(?:" + "|".join(branches) + ")" + ("?" if ends else "")
