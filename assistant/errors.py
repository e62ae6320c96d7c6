"""Typed errors: raised below the CLI, translated into one clear message each by `cli.py` and the app."""


class PlanqaError(Exception):
    """Base of every error planqa reports to a user."""


class LoadError(PlanqaError):
    """A corpus file could not be read; the other files still index."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UndecodableTextError(LoadError):
    pass


class EncryptedPdfError(LoadError):
    pass


class ImageOnlyPdfError(LoadError):
    pass


class BrokenPdfError(LoadError):
    pass


class IndexCorruptError(PlanqaError):
    """The index folder is missing files, inconsistent or unreadable; it is rebuilt."""


class EmbedderUnavailableError(PlanqaError):
    """The configured embedder cannot be loaded (missing extra, weights not on disk, ...)."""


class BadQuestionError(PlanqaError):
    """An empty question, or one that cannot be answered as given."""


class GeneratorUnavailableError(PlanqaError):
    """The configured answer generator (LLM endpoint, GGUF model) is down, slow or missing."""


class SettingsError(PlanqaError):
    """A setting has a value of the wrong type or out of range."""
