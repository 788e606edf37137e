"""A shutdown proposal as a record: what it asks, how it ended, how it is stored.

:mod:`.proposals` asks, answers, expires and withdraws them;
:mod:`.proposal_store` writes their ``as_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypedDict

from homeassistant.util import dt as dt_util

from .notifications import proposal_notification_id

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

PROPOSAL_ID_PREFIX: Final = "p_"
"""Proposal ids start with a letter, so templates never turn one into a number."""


class Outcome(StrEnum):
    """How a proposal ended."""

    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class ProposalDict(TypedDict):
    """A proposal as the card, the sensors and the store see it."""

    proposal_id: str
    node: str
    name: str
    notification_id: str
    created_at: str
    expires_at: str


@dataclass(slots=True, kw_only=True)
class Proposal:
    """One pending question: shut ``node`` down?"""

    id: str
    node: str
    name: str
    created_at: datetime
    expires_at: datetime

    @property
    def notification_id(self) -> str:
        """The persistent notification that asks the question."""
        return proposal_notification_id(self.node)

    def as_dict(self) -> ProposalDict:
        """Serialise, with ISO 8601 times."""
        return {
            "proposal_id": self.id,
            "node": self.node,
            "name": self.name,
            "notification_id": self.notification_id,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Proposal:
        """Rebuild a stored proposal; raise on a malformed record."""
        created = dt_util.parse_datetime(str(raw["created_at"]))
        expires = dt_util.parse_datetime(str(raw["expires_at"]))
        if created is None or expires is None:
            raise ValueError(f"Malformed proposal {raw!r}")
        return cls(
            id=str(raw["proposal_id"]),
            node=str(raw["node"]),
            name=str(raw["name"]),
            created_at=created,
            expires_at=expires,
        )
