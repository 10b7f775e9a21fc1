"""Stand-in for nova.compute."""
