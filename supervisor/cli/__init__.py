"""The `evse-supervisor` command line: `run`, `check-config` and `reload`."""
