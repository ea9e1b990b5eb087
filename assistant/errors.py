"""Errors the assistant raises; each message is shown to the user as is, so it says what to do."""


class AssistantError(Exception):
    """Base class: anything the CLI and UI turn into a plain message instead of a traceback."""


class ArticleError(AssistantError):
    """An article file could not be read or has no usable text."""


class IndexNotFoundError(AssistantError):
    """There is no index at the given path yet."""


class IndexMismatchError(AssistantError):
    """The index was built with other settings (model, dimension, chunking, format)."""


class CorruptIndexError(AssistantError):
    """An index file is missing, truncated, altered, or not ours."""


class IndexLockedError(AssistantError):
    """Another process is writing to the index."""


class StoreUnavailableError(AssistantError):
    """The database holding the index cannot be reached."""


class LLMError(AssistantError):
    """The language model backend is unavailable or failed."""


class PromptError(AssistantError):
    """A prompt template is missing or lacks a required variable."""


class LimitError(AssistantError):
    """A request is over one of the `limits` settings (question, history or upload size)."""
