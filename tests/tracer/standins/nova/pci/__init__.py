"""Stand-in for nova.pci."""
