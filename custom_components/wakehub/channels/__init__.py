"""Power channels (facade written below)."""
