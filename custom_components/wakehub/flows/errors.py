"""The recoverable errors of the flows' checks.

Each check (a field validator, the SSH login, the Proxmox VE and Docker API
tests, the host-key read) raises one type, which carries the form errors it
stands for (``{field: key}``) and the placeholders its text needs, the way
Home Assistant's ``homewizard`` flow's ``_async_try_connect`` does. A step
catches that type only and shows the form again; anything else is a bug and
propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class FlowError(Exception):
    """A check refused: show ``errors`` (field -> translation key) on the form."""

    def __init__(self, key: str, field: str = "base", **placeholders: str) -> None:
        """Refuse ``field`` with the error ``key`` (under ``config|options.error``)."""
        super().__init__(key)
        self.errors: dict[str, str] = {field: key}
        self.placeholders: dict[str, str] = placeholders


class InvalidInputError(FlowError):
    """The validators refused one or more fields of a form."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        """Refuse every field of ``errors`` at once."""
        super().__init__(next(iter(errors.values())))
        self.errors = dict(errors)


class FieldError(ValueError):
    """One validator refused one value: ``key`` is the form error."""

    def __init__(self, key: str) -> None:
        """Refuse with the error ``key``."""
        super().__init__(key)
        self.key = key
