"""Errors that mean "this part cannot run here", as opposed to bugs."""


class UnavailableError(RuntimeError):
    """A method or backbone cannot run in this environment (e.g. no weights); the message says how to fix it."""


class MissingWeightsError(UnavailableError):
    """Pretrained weights were asked for and are not on this machine (nothing is downloaded)."""
