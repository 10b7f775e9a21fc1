"""Analysis core: load traces into numpy columns, find hazards (no Qt here)."""
