"""The error a supervisor's addressing raises when no generation can answer in time."""


class Unavailable(Exception):
    """The child is restarting past the request's deadline, or was given up."""
