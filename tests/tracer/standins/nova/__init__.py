"""Stand-in for OpenStack Nova (newest-release signatures), for racelane's profile tests."""
