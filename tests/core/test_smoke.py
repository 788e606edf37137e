"""The package imports."""

from custom_components.wakehub.const import DOMAIN


def test_domain() -> None:
    """The domain is stable."""
    assert DOMAIN == "wakehub"
