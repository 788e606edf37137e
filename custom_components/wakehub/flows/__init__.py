"""The steps of WakeHub's config and options flows (``config_flow.py`` is the entry).

See docs/design.md for how the flows are laid out: one module per step group,
one validator per field (:mod:`.validators`), one recoverable error type per
check (:mod:`.errors`), one host-key pinning helper (:mod:`.host_key`) and one
finish helper.
"""
