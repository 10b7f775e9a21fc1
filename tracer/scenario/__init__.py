"""Deterministic scenarios that reproduce real races with the real recorder.

``nova`` models OpenStack Nova bug 1896463 (evacuation vs. the resource
audit) under Nova's own names; ``sched`` is the cooperative scheduler that
runs its actors, one interleaving at a time.
"""
