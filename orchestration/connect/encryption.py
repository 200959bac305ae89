"""The key that encrypts stored secrets at rest: from `CONNECTIONS_SECRET_KEY`, or generated once into a file
only its owner can read."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from orchestration.settings import ConfigurationError, ConnectSettings, Secret


class SecretBox:
    """Encrypts and decrypts the secrets of the credentials store (Fernet: AES-128-CBC with an HMAC)."""

    def __init__(self, key: Secret) -> None:
        try:
            self._fernet = Fernet(key.value.encode())
        except ValueError:
            raise ConfigurationError(
                "CONNECTIONS_SECRET_KEY is not a valid key: generate one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
            ) from None

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise ConfigurationError(
                "The stored Stripe credentials cannot be decrypted with this key: CONNECTIONS_SECRET_KEY or "
                "the key file changed since they were saved. Restore the key, or reconnect the accounts."
            ) from None


def secret_box(settings: ConnectSettings) -> SecretBox:
    return SecretBox(_master_key(settings))


def _master_key(settings: ConnectSettings) -> Secret:
    """CONNECTIONS_SECRET_KEY, else the key file (generated on first use)."""
    return settings.secret_key or _key_from_file(settings.key_path)


def _key_from_file(path: Path) -> Secret:
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"{path} is readable by other users (mode {mode:o}): run `chmod 600 {path}` (it is the key to the "
            "stored Stripe credentials)."
        )
    return Secret(path.read_text().strip())


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(Fernet.generate_key().decode())
    try:
        # A hard link appears whole or not at all: of two processes starting at once, one key wins, the
        # other process reads it.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def derived_key(settings: ConnectSettings, purpose: str) -> str:
    """A key for `purpose` (signing the admin's session cookie), derived from the store's key: one secret to keep."""
    return hmac.new(_master_key(settings).value.encode(), purpose.encode(), hashlib.sha256).hexdigest()
