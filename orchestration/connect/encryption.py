"""The master key that encrypts stored secrets at rest: `CONNECTIONS_SECRET_KEY`, or a file generated once
that only its owner can read.

A key is checked before it is used: its format, then that it is the key that encrypted the store's secrets
(a fingerprint of it is kept in the store), so a wrong or lost key is named before anything is decrypted and
never encrypts a secret beside others encrypted with another key. A key file is generated only while the
store holds no encrypted secret: once it does, a missing key file is an error, never a new key.

`stripe-warehouse connections rotate-key` replaces the key; the files of a rotation under way sit beside
the key file (`.new`: the new key, `.old`: the old one), and `recover_key_file` tidies what a killed one
left.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken

from orchestration.settings import ConfigurationError, ConnectSettings, Secret

KEY_SETTING = "CONNECTIONS_SECRET_KEY"
# A Fernet key: 32 bytes in URL-safe base64, 44 characters with its padding.
_KEY_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}=")
_FINGERPRINT_PURPOSE = b"stripe-warehouse connections key check"
# The fingerprint is a row of the store's table of facts about itself, `store_meta` (see store.SCHEMA).
_FINGERPRINT_NAME = "key_fingerprint"
_NEW_KEY = (
    "a new key comes from `stripe-warehouse connections rotate-key` (which re-encrypts the stored secrets with it), "
    'or for an empty store `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
)
_IF_LOST = (
    "If that key is lost, `stripe-warehouse connections rotate-key --forget-unreadable` makes a new key and marks "
    "the accounts whose secrets the lost key encrypted for re-authentication (or remove them with `stripe-warehouse "
    "connections remove` and connect them again)."
)


class SecretsUnreadableError(ConfigurationError):
    """Stored secrets cannot be decrypted (the key is missing, invalid or not the one that encrypted them, or a
    secret is damaged); the message names the key's source and the fix, never a secret."""


@dataclass(frozen=True)
class MasterKey:
    secret: Secret = field(repr=False)
    source: str
    """Where it came from, for messages: `CONNECTIONS_SECRET_KEY` or `The key file /path`."""

    @cached_property
    def fingerprint(self) -> str:
        """Tells keys apart without revealing them: kept in the store to check the key before any decryption."""
        return hmac.new(self.secret.value.encode(), _FINGERPRINT_PURPOSE, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SealState:
    """What the store says about its key, read without any key."""

    holds_sealed: bool
    """Some connection's secrets are encrypted in it."""
    fingerprint: str | None
    """The fingerprint of the key that encrypted them; None in a store of an older release, or a new one."""


class SecretBox:
    """Encrypts and decrypts the secrets of the credentials store (Fernet: AES-128-CBC with an HMAC)."""

    def __init__(self, key: MasterKey) -> None:
        self.key = key
        self._fernet = Fernet(key.secret.value.encode())

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes, account_id: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise SecretsUnreadableError(
                f"The stored secret of {account_id} cannot be decrypted with the key that encrypted the store (it "
                f"is damaged, or was encrypted with another key): re-authenticate {account_id} (stripe-warehouse web "
                f"→ Re-authenticate, or `stripe-warehouse connections add-key --account {account_id}` for a key), or "
                "remove it and connect it again."
            ) from None

    def opens(self, sealed: bytes) -> bool:
        try:
            self._fernet.decrypt(sealed)
        except InvalidToken:
            return False
        return True


def generate_key(source: str) -> MasterKey:
    return MasterKey(Secret(Fernet.generate_key().decode()), source)


# The store's record of its key.


def seal_state(db: sqlite3.Connection) -> SealState:
    """Read in `db`'s current transaction, if any; a store whose tables do not exist yet holds nothing."""
    tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
    holds_sealed = "connections" in tables and bool(
        db.execute("select exists (select 1 from connections where secrets is not null)").fetchone()[0]
    )
    row = None
    if "store_meta" in tables:
        row = db.execute("select value from store_meta where name = ?", (_FINGERPRINT_NAME,)).fetchone()
    return SealState(holds_sealed, row[0] if row else None)


def record_fingerprint(db: sqlite3.Connection, key: MasterKey) -> None:
    db.execute(
        "insert into store_meta (name, value) values (?, ?) on conflict (name) do update set value = excluded.value",
        (_FINGERPRINT_NAME, key.fingerprint),
    )


def stored_fingerprint(db: sqlite3.Connection) -> str | None:
    row = db.execute("select value from store_meta where name = ?", (_FINGERPRINT_NAME,)).fetchone()
    return row[0] if row else None


# Which key.


def master_key(settings: ConnectSettings, state: SealState) -> MasterKey:
    """The key of a store in `state`: CONNECTIONS_SECRET_KEY, else the key file (generated when missing and
    nothing is encrypted yet). Raises SecretsUnreadableError naming the setting or the file and the fix when the key
    is invalid, missing, or not the one that encrypted the stored secrets."""
    if settings.secret_key is not None:
        key = MasterKey(_valid(settings.secret_key, KEY_SETTING), KEY_SETTING)
    else:
        key = _key_from_file(settings, may_create=not state.holds_sealed)
    if not state.holds_sealed or state.fingerprint is None or key.fingerprint == state.fingerprint:
        return key
    if settings.secret_key is None:
        # A rotation whose transaction committed, its new key file not yet in place: that key is the one.
        pending = _key_in(new_key_path(settings.key_path))
        if pending is not None and pending.fingerprint == state.fingerprint:
            return pending
    raise wrong_key(key, settings)


def wrong_key(key: MasterKey, settings: ConnectSettings) -> SecretsUnreadableError:
    fix = (
        "set it to the key it was when they were stored"
        if key.source == KEY_SETTING
        else "restore the key file that encrypted them from your backup, or set CONNECTIONS_SECRET_KEY to that key"
    )
    return SecretsUnreadableError(
        f"{key.source} is not the key that encrypted the Stripe credentials stored in {settings.db_path}: {fix}. "
        f"{_IF_LOST}"
    )


def derived_key(settings: ConnectSettings, purpose: str) -> str:
    """A key for `purpose` (signing the admin's session cookie), derived from the store's key: one secret to keep.
    Checks the key as the store does, so the web app refuses to start with an invalid, missing or wrong key."""
    key = master_key(settings, _seal_state_of(settings.db_path))
    return hmac.new(key.secret.value.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def _seal_state_of(db_path: Path) -> SealState:
    if not db_path.exists():
        return SealState(holds_sealed=False, fingerprint=None)
    db = sqlite3.connect(f"file:{quote(str(db_path))}?mode=ro", uri=True, timeout=60)
    try:
        return seal_state(db)
    finally:
        db.close()


def _valid(key: Secret, source: str) -> Secret:
    """`key` if it is a Fernet key; never shows it in the error."""
    value = key.value.strip()
    if not _KEY_FORMAT.fullmatch(value):
        what = f"{source} is not a valid key" if source == KEY_SETTING else f"{source} does not hold a valid key"
        fix = (
            "set it to the key that encrypted the store, or unset it to use the key file"
            if source == KEY_SETTING
            else "restore it from your backup, or set CONNECTIONS_SECRET_KEY to the key"
        )
        raise SecretsUnreadableError(
            f"{what} (a Fernet key: 44 characters of URL-safe base64 ending with '='): {fix}; {_NEW_KEY}."
        )
    return Secret(value)


# The key file.


def new_key_path(path: Path) -> Path:
    """The new key of a rotation under way."""
    return path.with_name(f"{path.name}.new")


def old_key_path(path: Path) -> Path:
    """The old key, kept while a rotation is under way."""
    return path.with_name(f"{path.name}.old")


def _key_from_file(settings: ConnectSettings, *, may_create: bool) -> MasterKey:
    path = settings.key_path
    if not path.exists():
        if path.is_symlink():
            raise SecretsUnreadableError(
                f"{path} is a symbolic link to nothing: the key file must be a regular file. Remove the link (or "
                "put the key file it stands for in its place, mode 600)."
            )
        if not may_create:
            raise SecretsUnreadableError(
                f"The key file {path} is missing, but {settings.db_path} holds Stripe credentials encrypted with "
                "it: restore it from your backup (mode 600), or set CONNECTIONS_SECRET_KEY to the key it held. "
                f"No new key is generated in its place while they are stored. {_IF_LOST}"
            )
        _create_key_file(path)
    key = _key_in(path, required=True)
    assert key is not None
    return key


def _key_in(path: Path, *, required: bool = False) -> MasterKey | None:
    """The key a file holds; None if it is absent or invalid, unless `required` (then errors name the fix)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text()
    except FileNotFoundError:
        if required:
            raise SecretsUnreadableError(
                f"{path} is a symbolic link to nothing: the key file must be a regular file."
            ) from None
        return None
    if mode & 0o077:
        raise ConfigurationError(
            f"{path} is readable by other users (mode {mode:o}): run `chmod 600 {path}` (it is the key to the "
            "stored Stripe credentials)."
        )
    source = f"The key file {path}"
    try:
        return MasterKey(_valid(Secret(text), str(path)), source)
    except SecretsUnreadableError:
        if required:
            raise
        return None


def fingerprint_in(path: Path) -> str | None:
    key = _key_in(path)
    return key.fingerprint if key else None


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = _write_private(path.with_name(f".{path.name}.{secrets.token_hex(8)}"), generate_key(str(path)))
    try:
        # A hard link appears whole or not at all, and never replaces a file: of two processes starting at
        # once, one key wins, the other process reads it.
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def _write_private(path: Path, key: MasterKey) -> Path:
    """Writes `key` into a new file only its owner can read: never over an existing file, never through a
    link; on disk before this returns."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, key.secret.value.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def stage_new_key_file(path: Path) -> MasterKey:
    """A rotation's new key, written to `<key file>.new` (refused if one is there: another rotation runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key(f"The key file {path}")
    leftover = next((p for p in (old_key_path(path), new_key_path(path)) if p.exists() or p.is_symlink()), None)
    try:
        if leftover is not None:
            raise FileExistsError
        _write_private(new_key_path(path), key)
    except FileExistsError:
        raise ConfigurationError(
            f"{leftover or new_key_path(path)} exists, and holds no key of the store: another key rotation is "
            "under way, or one was killed before it started. Move it away once no other rotation runs, then run "
            "`stripe-warehouse connections rotate-key` again."
        ) from None
    return key


def back_up_key_file(path: Path) -> None:
    """Keeps the old key as `<key file>.old` until the rotation is done (a hard link: nothing is copied)."""
    if path.exists():
        os.link(path, old_key_path(path))


def install_new_key_file(path: Path) -> None:
    """The rotation's new key becomes the key file (an atomic rename), then the old key's backup goes."""
    os.replace(new_key_path(path), path)
    _sync_folder(path.parent)
    old_key_path(path).unlink(missing_ok=True)


def discard_new_key_file(path: Path) -> None:
    """A rotation that did not commit: its new key and the backup go, the key file stays."""
    new_key_path(path).unlink(missing_ok=True)
    old_key_path(path).unlink(missing_ok=True)


def recover_key_file(path: Path, state: SealState) -> None:
    """Tidies what a killed rotation left: the file (key, `.new` or `.old`) holding the key that encrypted the
    store becomes the key file; the other leftovers go, but only once the key file is the right one."""
    leftovers = [p for p in (new_key_path(path), old_key_path(path)) if p.exists()]
    if not leftovers:
        return
    right = state.fingerprint
    if right is not None and fingerprint_in(path) != right:
        for candidate in leftovers:
            if fingerprint_in(candidate) == right:
                os.replace(candidate, path)
                _sync_folder(path.parent)
                break
    if right is None or not state.holds_sealed or fingerprint_in(path) == right:
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
