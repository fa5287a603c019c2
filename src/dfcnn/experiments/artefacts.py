"""What the paper's artefacts share: the error for "not enough data for this figure"."""


class MissingData(ValueError):
    """An artefact cannot be made from this data; the message names what is missing."""
