"""WakeHub's tests."""
