"""Secrets by reference: what a job graph carries instead of a password (decision 0011).

A job graph is serialized by the client and stored by the JobManager (blob store, HA storage), so it must not
hold a secret. It holds a `SecretRef` instead, the place where the running job finds the secret:
an environment variable, or a `KEY=VALUE` line of a secrets file, at the same path on the machine that runs it.
* Kafka clients (Java) get the Kafka config-provider placeholder `${env:KEY}` / `${file:PATH:KEY}`, which the
  Kafka client resolves itself when the source, sink or admin client is created (TaskManager, JobManager);
* the Elasticsearch writer (Python) resolves its credentials in `open()` on the TaskManager.
A secret that has no such place (credentials in an `--es https://user:pw@host` URL, settings made in code) goes
into an *ephemeral* secrets file, private to this process and removed when it exits: embedded runs only.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

# the Kafka connector jar shades kafka-clients: config provider classes carry the shaded package name
_SHADED = "org.apache.flink.kafka.shaded."
_PROVIDERS = {"file": "org.apache.kafka.common.config.provider.FileConfigProvider",
              "env": "org.apache.kafka.common.config.provider.EnvVarConfigProvider"}
# characters Kafka's JAAS parser reads as syntax inside a quoted value once a placeholder is resolved
_JAAS_UNSAFE = ('"', "\\", "\n", "\r")


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class SecretRef:
    """Environment variable `key` (file None), or the line `key=...` of the secrets file `file`."""

    key: str
    file: str | None = None

    def __str__(self) -> str:
        return f"file:{self.file}:{self.key}" if self.file else f"env:{self.key}"

    @property
    def provider(self) -> str:
        return "file" if self.file else "env"

    def placeholder(self) -> str:
        """Kafka config-provider syntax; the Kafka client replaces it with the value when it starts."""
        return "${" + str(self) + "}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        if self.file is None:
            value = (os.environ if environ is None else environ).get(self.key)
            where = "the environment"
        else:
            value = read_secrets_file(self.file).get(self.key)
            where = self.file
        if value is None:
            raise SettingsError(f"{self.key} is not set in {where} on this machine "
                                "(a job reads its secrets where it runs: see docs/production.md)")
        return value


def read_secrets_file(path: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115 - small file, read at once
    except OSError as exc:
        raise SettingsError(f"cannot read secrets file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")  # never echo the line: it may be a secret
        values[key.strip()] = value.strip().strip("'\"")
    return values


def java_properties_issue(path: str, key: str) -> str | None:
    """Why Java's Properties.load (Kafka's FileConfigProvider) would read `key` differently from kairos, if so.

    kairos strips quotes, `export ` and trailing blanks; Java keeps them and reads `\\` as an escape."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for raw in lines:
        stripped = raw.strip()
        name, sep, value = stripped.removeprefix("export ").partition("=")
        if not sep or name.strip() != key:
            continue
        if stripped.startswith("export "):
            return "drop the `export ` in front of the line"
        after = raw.split("=", 1)[1].lstrip()
        if "\\" in after:
            return "the value holds a backslash"
        if after != after.rstrip():
            return "the line ends in blanks"
        if after[:1] in "'\"" and after:
            return "the value is quoted"
        if raw[:1].isspace():
            return "the line starts with blanks"
    return None


def kafka_secret(ref: SecretRef, value: str | None, jaas: bool) -> str:
    """The placeholder for one Kafka secret, after checking the runtime will read the same value."""
    if ref.file and (":" in ref.file or "}" in ref.file):
        raise SettingsError(f"secrets file path {ref.file} holds ':' or '}}', which Kafka's placeholder "
                            "syntax cannot carry; move the file")
    if ref.file and (issue := java_properties_issue(ref.file, ref.key)):
        raise SettingsError(f"{ref.file}: {ref.key}: the Kafka client reads this file as Java properties and "
                            f"would see another value ({issue})")
    if jaas and value and any(c in value for c in _JAAS_UNSAFE):
        raise SettingsError(f"{ref.key} holds a quote, a backslash or a line break: the Kafka client resolves it "
                            "inside its JAAS configuration, where these are syntax; choose another password")
    return ref.placeholder()


def provider_properties(refs: list[SecretRef], shaded: bool) -> dict[str, str]:
    """`config.providers` for the placeholders used: file access limited to the secrets files' folders and
    environment access to KAIROS_* names, so a placeholder smuggled into a property reads nothing else."""
    used = sorted({r.provider for r in refs})
    if not used:
        return {}
    props = {"config.providers": ",".join(used)}
    for name in used:
        props[f"config.providers.{name}.class"] = (_SHADED if shaded else "") + _PROVIDERS[name]
    if "file" in used:
        folders = sorted({os.path.dirname(r.file) for r in refs if r.file})
        props["config.providers.file.param.allowed.paths"] = ",".join(folders)
    if "env" in used:
        props["config.providers.env.param.allowlist.pattern"] = "^KAIROS_.*"
    return props


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`https://user:pw@host:9200` -> (`https://host:9200`, user, pw): credentials never stay in a URL."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.netloc.rpartition("@")[2]
    return (urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)),
            unquote(parts.username or "") or None, unquote(parts.password) if parts.password is not None else None)


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, "***@" + parts.netloc.rpartition("@")[2], parts.path, parts.query,
                       parts.fragment))


_EPHEMERAL: list[str] = []


def ephemeral_secrets_file(values: Mapping[str, str]) -> str:
    """A private secrets file (folder 0700, file 0600) removed when this process exits: for secrets an embedded
    run got from no file or variable the job could read (a URL's credentials). Plain KEY=VALUE lines that both
    kairos and Java's Properties read alike; values that would not are refused."""
    for key, value in values.items():
        if any(c in value for c in ("\\", "\n", "\r")) or value != value.strip() or value[:1] in "'\"":
            raise SettingsError(f"{key}: put this secret in a KAIROS_* variable or a --secrets file instead")
    folder = tempfile.mkdtemp(prefix="kairos-secrets-")
    if not _EPHEMERAL:
        atexit.register(_remove_ephemeral)
    _EPHEMERAL.append(folder)
    path = os.path.join(folder, "runtime.secrets")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _remove_ephemeral() -> None:
    while _EPHEMERAL:
        shutil.rmtree(_EPHEMERAL.pop(), ignore_errors=True)


def jaas_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def flag(value: str | None, default: bool) -> bool:
    return default if value in (None, "") else value.lower() in ("1", "true", "yes", "on")


def secrets_paths(secrets_file: str | Sequence[str] | None) -> list[str]:
    if not secrets_file:
        return []
    return [os.path.abspath(p) for p in ([secrets_file] if isinstance(secrets_file, str) else secrets_file)]


def merged_secrets(files: list[str], environ: Mapping[str, str] | None,
                   skip_unreadable: bool = False) -> tuple[dict[str, str], dict[str, SecretRef]]:
    """KAIROS_* values (later files over earlier, the environment over files) and where each one came from."""
    env: dict[str, str] = {}
    refs: dict[str, SecretRef] = {}
    for path in files:
        if skip_unreadable and not os.access(path, os.R_OK):
            continue
        for key, value in read_secrets_file(path).items():
            env[key], refs[key] = value, SecretRef(key, path)
    for key, value in (os.environ if environ is None else environ).items():
        if key.startswith("KAIROS_"):
            env[key], refs[key] = value, SecretRef(key)
    return env, refs
