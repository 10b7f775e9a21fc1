"""racelane command line: one ``racelane`` command with subcommands."""
