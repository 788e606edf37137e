"""End-to-end test of the demo (``scripts/develop --headless``)."""
