"""Typed registries that plugins fill at start-up and the gateway reads ever after."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from gateway_core.config import describe_validation_error
from gateway_core.errors import GatewayError

T = TypeVar("T", bound=type)


class RegistryError(GatewayError):
    """A plugin registered something the registry cannot accept (a start-up failure)."""


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry(Generic[T]):
    """Classes of one extension kind, keyed by their ``type_name``.

    ``kind`` is a human word used in messages ("provider", "auth method"...). ``base`` is the
    class every entry must subclass, so a plugin that registers the wrong thing fails at boot
    with a message rather than at its first request.
    """

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, T] = {}

    def add(self, cls: T) -> T:
        """Register ``cls`` under ``cls.type_name``; returns it so it can be used as a decorator."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise RegistryError(
                f"Cannot register {cls!r} as a {self.kind}: it must subclass "
                f"{_qualified(self.base)}"
            )
        name = getattr(cls, "type_name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(
                f"{self.kind.capitalize()} class {_qualified(cls)} has no `type_name` string"
            )
        existing = self._entries.get(name)
        if existing is not None and existing is not cls:
            raise RegistryError(
                f"{self.kind.capitalize()} type {name!r} is registered twice: by "
                f"{_qualified(existing)} and by {_qualified(cls)}. Disable one of the plugins."
            )
        self._entries[name] = cls
        return cls

    def get(self, name: str, *, where: str = "") -> T:
        """Return the class for ``name`` or fail with the list of what is available."""
        try:
            return self._entries[name]
        except KeyError:
            available = ", ".join(sorted(self._entries)) or "none"
            suffix = f" {where}" if where else ""
            raise RegistryError(
                f"Unknown {self.kind} type {name!r}{suffix}. Available: {available}"
            ) from None

    def configure(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        source: str,
        type_key: str,
        options_key: str,
        problems: list[str],
        context: str = "",
    ) -> tuple[T, Any] | None:
        """The class registered as ``name`` and ``options`` validated against its
        ``config_model``; on failure, lines naming ``type_key``/``options_key`` are added to
        ``problems`` and ``None`` is returned, so that callers report every mistake at once."""
        try:
            cls = self.get(name, where=context)
        except RegistryError as exc:
            problems.append(f"{source}: {type_key}: {exc.message}")
            return None
        try:
            return cls, cls.config_model.model_validate(dict(options))
        except ValidationError as exc:
            problems.extend(describe_validation_error(exc, source, options_key))
            return None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())
