"""Tests of the homelab simulator (tests/homelab) against real clients."""
