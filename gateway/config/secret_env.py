"""The environment the `*_env` settings read their secrets from: a variable, or a file.

`api_key_env = "OPENAI_API_KEY"` (and every other `*_env` setting) reads the variable
`OPENAI_API_KEY`; when that is not set and `OPENAI_API_KEY_FILE` is, the secret is the content
of the file that variable names, its trailing line ends dropped. That is the convention of
Docker's official images (`POSTGRES_PASSWORD_FILE`): Docker and Compose secrets are files
(`/run/secrets/<name>`), as are Kubernetes secrets mounted as a volume, and a file can change
under a running gateway. The file is read at each lookup: at every config load (start and
reload) and, for the admin key, at each admin call; so a secret rotated in its file applies at
the next reload, which the watcher makes when the file changes (gateway/reload.py).

Both `NAME` and `NAME_FILE` set is a config error (`problem`), as in those images: which one
wins would be a guess. A file that cannot be read (missing, not a regular file, larger than
`MAX_SECRET_BYTES`, not UTF-8) is a config error too, naming the variable and the reason,
never the content.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from gateway.config.files import read_config_file
from gateway.config.types import GatewayConfig

FILE_SUFFIX = "_FILE"
# Far above any key, token or password; the file is read whole at each lookup.
MAX_SECRET_BYTES = 64 * 1024


class SecretEnvironment(Mapping[str, str]):
    """`base` (the process environment), where a variable that is not set may be given as a
    file named by `<NAME>_FILE`. A name whose file cannot be read is not in it (`problem`
    says why)."""

    def __init__(self, base: Mapping[str, str]) -> None:
        self.base = base

    def __getitem__(self, name: str) -> str:
        if name in self.base:
            return self.base[name]
        path = self.base.get(name + FILE_SUFFIX)
        if path is None:
            raise KeyError(name)
        try:
            return _read_secret(Path(path))
        except (OSError, UnicodeDecodeError):
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)

    def problem(self, name: str) -> str | None:
        """Why `name` cannot be read as set, when it is given but cannot be used: both ways
        at once, or a file that cannot be read. None when it is set or not given at all."""
        file_name = name + FILE_SUFFIX
        path = self.base.get(file_name)
        if path is None:
            return None
        if name in self.base:
            return f"environment variables {name} and {file_name} are both set: set one"
        try:
            _read_secret(Path(path))
        except UnicodeDecodeError:
            return f"{file_name} names a file that is not UTF-8 text"
        except OSError as exc:
            why = f"larger than {MAX_SECRET_BYTES:,} bytes" if exc.errno == errno.EFBIG else None
            return f"{file_name} names a file that cannot be read: {why or exc.strerror or exc}"
        return None

    def files(self, names: list[str]) -> list[Path]:
        """The files the secrets of `names` are read from (those given as files), for the
        watcher."""
        return [
            Path(self.base[name + FILE_SUFFIX])
            for name in names
            if name not in self.base and name + FILE_SUFFIX in self.base
        ]


def secret_names(config: GatewayConfig) -> list[str]:
    """Every environment variable `config` reads a secret from (its `*_env` settings)."""
    names = [config.admin.key_env, config.state.sentinel_password_env]
    names.append(config.state.redis_password_env)
    for provider in config.providers.values():
        names += [provider.api_key_env, provider.entra.client_secret_env]
        names.append(provider.network.proxy_password_env)
        names += provider.headers_env.values()
    names += [key.key_env for key in config.keys]
    return sorted({name for name in names if name})


def secrets_digest(config: GatewayConfig, env: Mapping[str, str]) -> bytes:
    """A digest of the secrets `config` reads from `env`: a reload of unchanged files still
    applies a secret rotated in its file (or variable) when this changed."""
    digest = hashlib.sha256()
    for name in secret_names(config):
        secret = env.get(name, "").encode("utf-8", "surrogateescape")
        digest.update(b"%s\0%s\0" % (name.encode(), secret))
    return digest.digest()


def _read_secret(path: Path) -> str:
    """A secret file's text without its trailing line ends (`echo secret > file` adds one)."""
    return read_config_file(path, MAX_SECRET_BYTES).decode("utf-8").rstrip("\r\n")


# The process environment, as every `*_env` setting reads it.
ENVIRONMENT = SecretEnvironment(os.environ)
