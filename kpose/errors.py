"""The exceptions kpose raises.

Every message names the file, record or key at fault and what was expected.
"""


class KposeError(Exception):
    """Base class of every error kpose raises on purpose."""


class RecipeError(KposeError, ValueError):
    """A recipe file or override is malformed: unknown key, wrong type, missing file."""


class DataError(KposeError, ValueError):
    """An annotation file, image or TFRecord is unreadable or inconsistent."""


class ModelError(KposeError, ValueError):
    """A model or preset cannot be built or its weights do not fit."""
