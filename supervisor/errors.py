"""Errors the station raises toward the API layer (mapped to wire codes in supervisor/api)."""


class Unavailable(Exception):
    """The connector is restarting past the request's deadline, or was given up."""


class Forbidden(Exception):
    """A simulation or chaos command where it is not enabled."""
