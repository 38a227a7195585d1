"""User-facing errors. Their messages are one line that names the file and the problem."""


class TicError(Exception):
    """A problem with the user's input (file, text, config, model folder); shown without traceback."""
