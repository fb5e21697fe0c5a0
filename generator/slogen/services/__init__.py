"""What each command does, between the CLI and the domain and clients: each returns a report."""
