"""WakeHub: power a homelab up and down in dependency order."""

from __future__ import annotations
