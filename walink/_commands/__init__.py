"""Private: one module per ``walink`` subcommand (see walink.cli)."""
