"""Who may log in to the UI, and what each may do: a TOML users file with argon2 hashes.

    # users.toml: roles are viewer (chat only) or editor (chat and the Articles tab)
    [users.alice]
    role = "editor"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."   # from `assistant hash-password`

argon2-cffi does the hashing: a memory-hard hash with salts and parameters stored in the hash
string, so no password is ever kept in the file, and verification stays constant-time.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assistant.errors import AssistantError

Role = Literal["viewer", "editor"]
ROLES: tuple[Role, ...] = ("viewer", "editor")


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of `password` for the users file."""
    if not password:
        raise AssistantError("the password is empty; choose one")
    return str(_hasher().hash(password))


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str


class Users:
    """The accounts the UI accepts; `check` is Gradio's auth callback."""

    def __init__(self, users: dict[str, User]):
        if not users:
            raise AssistantError("the users file lists no users; add a [users.NAME] table")
        self._users = users
        # Checking an unknown name against a real hash takes as long as a known one, so the
        # response time does not tell which names exist.
        self._dummy = next(iter(users.values())).password_hash

    @classmethod
    def single_editor(cls, name: str, password: str) -> Users:
        """`--auth user:password`: one account that may do everything."""
        return cls({name: User(name, "editor", hash_password(password))})

    @classmethod
    def from_file(cls, path: str | Path) -> Users:
        """Read and check a users file; every problem names the file, the user and the fix."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AssistantError(f"users file {path} cannot be read: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AssistantError(f"users file {path} is not valid TOML: {exc}") from None
        table = data.get("users")
        if not isinstance(table, dict):
            raise AssistantError(
                f"users file {path} needs a [users.NAME] table per user, "
                "with role and password_hash"
            )
        users = {}
        for name, entry in table.items():
            where = f"users file {path}, user {name!r}"
            if not isinstance(entry, dict):
                raise AssistantError(f"{where}: expected a table with role and password_hash")
            if "password" in entry:
                raise AssistantError(
                    f"{where}: plain-text passwords are refused; replace password with "
                    "password_hash from `assistant hash-password`"
                )
            role = entry.get("role")
            if role not in ROLES:
                raise AssistantError(f"{where}: role must be one of {', '.join(ROLES)}")
            hashed = entry.get("password_hash")
            if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
                raise AssistantError(
                    f"{where}: password_hash must be an argon2 hash from `assistant hash-password`"
                )
            unknown = set(entry) - {"role", "password_hash"}
            if unknown:
                raise AssistantError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            users[name] = User(name, role, hashed)
        if not users:
            raise AssistantError(f"users file {path} lists no users; add a [users.NAME] table")
        return cls(users)

    def check(self, username: str, password: str) -> bool:
        """True when the name exists and the password matches its hash."""
        from argon2.exceptions import InvalidHashError, VerificationError

        user = self._users.get(username)
        try:
            ok = _hasher().verify(user.password_hash if user else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(ok and user)

    def role(self, username: str | None) -> Role | None:
        user = self._users.get(username or "")
        return user.role if user else None
