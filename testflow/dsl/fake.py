"""Deterministic fake data for templates: ``{{ fake.name() }}``, ``{{ fake.iban() }}``...

Every call reseeds a private Faker instance from the template runtime's random generator, so
the values depend only on that generator's state: the same seed gives the same names, which
is what makes fake data usable in a replayed Temporal workflow (whose random generator is
``workflow.random()``). Faker is imported on first use because importing it costs ~0.2 s and
most flows never ask for fake data.

Faker is loaded, and its one shared instance built, on the host thread of
:mod:`testflow.dsl.host_thread`: imported inside the Temporal workflow sandbox, Faker hits the
sandbox's restrictions (``platform.system``) on every call. The instance is shared (building
one imports locale providers, again an import), so seeding and generating happen under a lock.

Only provider methods are reachable from templates (``fake.city()``, ``fake.bban()``...):
Faker's own machinery (``seed_instance``, ``random``, ``add_provider``) is not, so a template
cannot change how other templates are seeded.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from testflow.dsl.host_thread import on_host_thread

__all__ = ["FakeData"]

# Short names users reach for first, mapped to Faker's provider methods.
ALIASES: dict[str, str] = {
    "phone": "phone_number",
    "zip": "postcode",
    "uuid": "uuid4",
}

_LOCK = threading.Lock()
_instances: dict[str, Any] = {}
_provider_base: list[type] = []  # faker.providers.BaseProvider, once loaded


def _load(locale: str) -> Any:
    """The shared Faker for ``locale``, built outside any sandbox (see the module docstring)."""
    faker = _instances.get(locale)
    if faker is not None:
        return faker
    built, base = on_host_thread(_build, locale)
    if not _provider_base:
        _provider_base.append(base)
    return _instances.setdefault(locale, built)


def _build(locale: str) -> tuple[Any, type]:
    try:
        from faker import Faker
        from faker.providers import BaseProvider
    except ImportError as error:
        raise RuntimeError(f"fake data needs the 'faker' package: {error}") from None
    return Faker(locale), BaseProvider


class FakeData:
    """The ``fake`` object of templates; one per template runtime."""

    __slots__ = ("_locale", "_rng")

    def __init__(self, rng: random.Random, locale: str = "en_US") -> None:
        self._rng = rng
        self._locale = locale

    def _provider_method(self, name: str) -> Callable[..., Any]:
        faker = _load(self._locale)
        method = getattr(faker, ALIASES.get(name, name), None)
        owner = getattr(method, "__self__", None)
        if not callable(method) or not isinstance(owner, _provider_base[0]):
            raise AttributeError(f"fake.{name} is not a Faker data provider (try fake.name())")
        return method  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = self._provider_method(name)
        faker = _load(self._locale)
        rng = self._rng

        def generate(*args: Any, **kwargs: Any) -> Any:
            seed = rng.getrandbits(32)
            with _LOCK:  # the instance is shared: seed and draw together
                faker.seed_instance(seed)
                return method(*args, **kwargs)

        generate.__name__ = name
        return generate

    # The common ones, spelled out so they show up in editors and in dir().
    def name(self) -> str:
        return str(self.__getattr__("name")())

    def first_name(self) -> str:
        return str(self.__getattr__("first_name")())

    def last_name(self) -> str:
        return str(self.__getattr__("last_name")())

    def email(self) -> str:
        return str(self.__getattr__("email")())

    def address(self) -> str:
        return str(self.__getattr__("address")())

    def iban(self) -> str:
        return str(self.__getattr__("iban")())

    def company(self) -> str:
        return str(self.__getattr__("company")())

    def phone(self) -> str:
        return str(self.__getattr__("phone_number")())

    def __repr__(self) -> str:
        return f"<fake data ({self._locale})>"
