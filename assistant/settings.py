"""One typed settings object for every entry point (Python, CLI, UI).

Values come from, in order: arguments, `ASSISTANT_*` environment variables (nested groups with
`__`, e.g. `ASSISTANT_LLM__BACKEND=passages`), then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = PROJECT_DIR / "index"
PROMPTS_DIR = PROJECT_DIR / "prompts"
SAMPLE_ARTICLES_DIR = PROJECT_DIR / "data" / "sample" / "articles"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkingSettings(_Group):
    max_chars: int = Field(
        600, ge=100, description="Upper bound on a chunk's length in characters."
    )
    overlap_sentences: int = Field(
        1,
        ge=0,
        le=5,
        description="Sentences repeated from the previous chunk. 1 costs ~25% more tokens to "
        "embed than 0 but lets the model read a figure with the sentence that introduces it.",
    )


class EmbeddingSettings(_Group):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model: a packaged name (see embeddings.py) or a path.",
    )
    batch_size: int = Field(
        16, ge=1, description="Texts per batch (small batches pad less and suit 2 cores)."
    )
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Arithmetic of the sentence-transformers model; auto = bfloat16 where the "
        "CPU has native bf16 (AVX512-BF16), else float32.",
    )


class RetrievalSettings(_Group):
    k: int = Field(5, ge=1, le=50, description="Passages given to the model.")
    fetch_k: int = Field(
        20, ge=1, description="Candidates taken from each retriever before fusion."
    )
    per_article: int = Field(2, ge=1, description="At most this many passages from one article.")
    rrf_k: int = Field(20, ge=1, description="Reciprocal-rank-fusion constant.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    mmr: bool = Field(False, description="Diversify passages with maximal marginal relevance.")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="MMR trade-off: 1 = relevance only.")
    min_similarity: float = Field(
        0.34,
        description="If no passage has a cosine similarity above this, abstain without the LLM.",
    )


class LLMSettings(_Group):
    backend: Literal["llamacpp", "openai", "ollama", "passages"] = Field(
        "llamacpp",
        description="llamacpp: bundled local model; openai/ollama: a server; passages: no LLM.",
    )
    model: str | None = Field(
        None, description="Model name for openai/ollama, or a GGUF path for llamacpp."
    )
    base_url: str | None = Field(None, description="Server URL for openai/ollama.")
    api_key: str | None = Field(None, description="API key for an OpenAI-compatible server.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(320, ge=16, description="Longest answer, in tokens.")
    n_ctx: int = Field(4096, ge=512, description="Context window of the local model.")
    threads: int | None = Field(None, description="CPU threads for the local model (default: all).")


class LimitSettings(_Group):
    """Caps on one request, so one caller cannot make the server read or the model see
    unbounded text. Over a cap, the request is refused with a message saying which cap."""

    question_chars: int = Field(
        1000, ge=10, description="Longest question; a longer one never reaches the model."
    )
    history_turns: int = Field(
        50, ge=0, description="Most earlier exchanges a chat request may carry."
    )
    history_chars: int = Field(
        100_000, ge=0, description="Most characters of earlier exchanges a chat request may carry."
    )
    upload_files: int = Field(50, ge=1, description="Most files in one upload from the UI.")
    questions_at_once: int = Field(
        2, ge=1, description="Questions one UI user may have waiting or being answered."
    )
    questions_per_minute: int = Field(
        10, ge=1, description="Questions one UI user may ask in any 60 seconds."
    )


class Settings(BaseSettings):
    """Everything configurable. Pass one to `Assistant`, or a dict of overrides."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    index_dir: Path = Field(DEFAULT_INDEX_DIR, description="Folder holding the index.")
    prompts_dir: Path = Field(PROMPTS_DIR, description="Folder holding the prompt templates.")
    max_article_bytes: int = Field(
        5_000_000, ge=1000, description="Larger article files are rejected."
    )
    users: Path | None = Field(
        None,
        description="TOML file of UI accounts with roles and argon2 password hashes "
        "(ASSISTANT_USERS); see assistant/users.py.",
    )
    follow_symlinks: bool = Field(
        False,
        description="When adding a folder, also read symlinks that resolve outside it "
        "(off: they are skipped and reported, so a link cannot index any file on the machine).",
    )
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    limits: LimitSettings = LimitSettings()


def resolve_settings(
    settings: Settings | dict[str, Any] | None = None, **overrides: Any
) -> Settings:
    """Accept a Settings, a dict of overrides, or nothing; keyword overrides win."""
    if isinstance(settings, Settings):
        if not overrides:
            return settings
        merged = settings.model_dump()
        _deep_update(merged, overrides)
        return Settings(**merged)
    values = dict(settings or {})
    _deep_update(values, overrides)
    return Settings(**values)


def _deep_update(target: dict[str, Any], updates: dict[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value
