"""The one exception type the command line turns into a clean one-line error."""


class IdaError(Exception):
    """A user-facing error: bad input, unknown name, unreadable file. Printed as one line."""
