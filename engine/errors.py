"""Errors whose message is one clear sentence for a person (shown in the page and the CLI as is)."""


class UserError(Exception):
    """Bad input or an impossible request; str(exc) is the sentence to show."""
