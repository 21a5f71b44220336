"""The one exception type a user sees: a problem with their input, said in one line with its fix."""


class GankitError(Exception):
    """Bad input or an unusable environment. The CLI prints the message alone and exits with code 2.

    The message names the problem and, after a colon or semicolon, how to fix it.
    """
