"""Stand-in for oslo.concurrency, just enough for racelane's profile tests."""
