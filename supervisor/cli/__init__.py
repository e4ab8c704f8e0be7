"""The `evse-supervisor` command line: `run` and `check-config`."""
