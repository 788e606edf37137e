"""Constants shared by the WakeHub integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "wakehub"
