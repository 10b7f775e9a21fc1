"""The recorder: what runs inside the traced program."""
