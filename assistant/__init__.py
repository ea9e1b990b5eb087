"""Ask questions about a collection of news articles; answers cite the exact passages.

from assistant import answer
reply = answer("What did Kissinger propose?")
print(reply.text)                   # inline [1], [2] markers
for c in reply.citations:           # what each marker points at
    print(c.number, c.title, c.date, c.start, c.end)
"""

from assistant.citations import CANNOT_ANSWER
from assistant.core import Assistant, answer
from assistant.errors import (
    ArticleError,
    AssistantError,
    CorruptIndexError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    LimitError,
    LLMError,
    PromptError,
    StoreUnavailableError,
)
from assistant.retrieval import Filters
from assistant.settings import Settings
from assistant.types import (
    Answer,
    Article,
    Chunk,
    Citation,
    Event,
    IndexedArticle,
    IngestReport,
    Passage,
)

__all__ = [
    "CANNOT_ANSWER",
    "Answer",
    "Article",
    "ArticleError",
    "Assistant",
    "AssistantError",
    "Chunk",
    "Citation",
    "CorruptIndexError",
    "Event",
    "Filters",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexedArticle",
    "IngestReport",
    "LLMError",
    "LimitError",
    "Passage",
    "PromptError",
    "Settings",
    "StoreUnavailableError",
    "answer",
]
