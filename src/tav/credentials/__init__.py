"""Credentials: typed kinds, encryption at rest, and the service that keeps them.

``tav.credentials`` never imports ``tav.storage`` (they are siblings in one layer): the
service talks to a ``CredentialStore`` (``ports.py``) that ``tav.storage.credentials``
implements, and the composition root (``tav.app.root``) and the CLI wire the two together.
"""

from tav.credentials.errors import CredentialInvalid, CredentialKeyError
from tav.credentials.keys import KeySource
from tav.credentials.kinds import KINDS, kind_schemas
from tav.credentials.service import CredentialService
from tav.credentials.vault import Vault

__all__ = [
    "KINDS",
    "CredentialInvalid",
    "CredentialKeyError",
    "CredentialService",
    "KeySource",
    "Vault",
    "kind_schemas",
]
