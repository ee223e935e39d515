"""The exception hierarchy of Chantal.

Every error raised by the core or an adapter derives from :class:`ChantalError`.
Adapters translate their library's exceptions (urllib3, SQLAlchemy, ruamel.yaml, ...)
into these with ``raise ... from exc`` so a caller handles one family per port.
Each class carries a kebab-case ``code`` and, where it helps, a ``hint`` the CLI prints.
The CLI maps families to exit codes in exactly one place (``chantal_cli.main``).
"""

from __future__ import annotations


class ChantalError(Exception):
    """Root of every Chantal error.

    :ivar code: stable kebab-case identifier, printed by the CLI.
    :ivar hint: optional advice for the operator, or ``None``.
    """

    code = "chantal-error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- domain values -----------------------------------------------------------


class InvalidVersionError(ChantalError, ValueError):
    """A version, EVR or NEVRA string that cannot be parsed.

    :ivar text: the offending string.
    """

    code = "invalid-version"

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid version {text!r}: {reason}")
        self.text = text
        self.reason = reason


class FilterError(ChantalError, ValueError):
    """A filter definition that cannot be applied (e.g. a regex that does not compile)."""

    code = "invalid-filter"


# --- configuration ------------------------------------------------------------


class ConfigError(ChantalError):
    """Invalid configuration.

    :ivar problems: one message per problem, each naming file, line and key where known.
    """

    code = "config-error"

    def __init__(self, problems: list[str] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint)


# --- fetching -----------------------------------------------------------------


class FetchError(ChantalError):
    """A download failed (connection, HTTP status, TLS, timeout).

    :ivar url: the URL that failed.
    :ivar status: the HTTP status, or ``None`` when no response was received.
    """

    code = "fetch-failed"

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.status = status
        self.reason = reason


class ChecksumMismatchError(ChantalError):
    """Downloaded or stored content does not match its expected checksum or size.

    :ivar source: URL or path of the content.
    """

    code = "checksum-mismatch"

    def __init__(self, source: str, expected: str, actual: str, *, kind: str = "sha256") -> None:
        super().__init__(f"{source}: {kind} mismatch: expected {expected}, got {actual}")
        self.source = source
        self.expected = expected
        self.actual = actual
        self.kind = kind


class MetadataError(ChantalError):
    """Upstream metadata is malformed, unsafe or inconsistent.

    :ivar source: URL or path of the metadata file.
    """

    code = "bad-metadata"

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class SignatureError(ChantalError):
    """An upstream signature is missing, invalid, or made by an unexpected key."""

    code = "bad-signature"


# --- storage ------------------------------------------------------------------


class PoolError(ChantalError):
    """The content pool could not store or serve a file."""

    code = "pool-error"


class PoolIntegrityError(PoolError):
    """A pool file is missing or its content no longer matches its SHA256 name."""

    code = "pool-integrity"


class CatalogError(ChantalError):
    """The catalog (metadata database) failed or is inconsistent."""

    code = "catalog-error"


class SchemaOutdatedError(CatalogError):
    """The database schema is older than this version of Chantal expects."""

    code = "schema-outdated"


class NotFoundError(ChantalError, LookupError):
    """A named repository, snapshot, view or package does not exist."""

    code = "not-found"


class ConflictError(ChantalError):
    """An operation would contradict existing state (e.g. same NEVRA, other checksum)."""

    code = "conflict"


class PublishError(ChantalError):
    """A published tree could not be built or swapped in."""

    code = "publish-error"


class PluginError(ChantalError):
    """A plugin failed to load or registered something invalid."""

    code = "plugin-error"
