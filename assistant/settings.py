"""One typed settings object for every entry point (Python, CLI, UI).

Values come from, in order: arguments, `ASSISTANT_*` environment variables (nested groups with
`__`, e.g. `ASSISTANT_LLM__BACKEND=passages`), then the defaults below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.backends import BACKENDS

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
# A source checkout keeps prompts/, the sample articles and the default index/ beside the
# package. An installed wheel carries the prompts and samples inside the package (pyproject.toml
# maps them there) and keeps its index in the user's data folder, built from the samples on
# first use: site-packages is no place to write.
IN_CHECKOUT = (PROJECT_DIR / "pyproject.toml").is_file() and (PROJECT_DIR / "prompts").is_dir()
if IN_CHECKOUT:
    PROMPTS_DIR = PROJECT_DIR / "prompts"
    SAMPLE_ARTICLES_DIR = PROJECT_DIR / "data" / "sample" / "articles"
    DEFAULT_INDEX_DIR = PROJECT_DIR / "index"
else:
    from platformdirs import user_data_path

    PROMPTS_DIR = PACKAGE_DIR / "bundled" / "prompts"
    SAMPLE_ARTICLES_DIR = PACKAGE_DIR / "bundled" / "sample_articles"
    DEFAULT_INDEX_DIR = user_data_path("news-assistant", appauthor=False) / "index"


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
        20,
        ge=1,
        description="Candidates taken from each retriever before fusion. 40 was chosen in every "
        "fold of the week-wise cross-validation, but with it the bundled model answered an "
        "unanswerable sample question from the extra candidates (README).",
    )
    per_article: int = Field(2, ge=1, description="At most this many passages from one article.")
    rrf_k: int = Field(20, ge=1, description="Reciprocal-rank-fusion constant.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in fusion.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense ranking in fusion.")
    context_chars: int = Field(
        2000,
        ge=200,
        description="Most characters of passage text given to the model; passages are added "
        "best first until it is used up. Half of stock LangChain's 4 x 1,000: on 2023 pages "
        "the answers were as good held out (chosen over 4,000 in every week-fold) and the first "
        "token came 1.6-2.4 s sooner (README). No 2020 passage prompt is longer.",
    )
    max_overlap: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Skip a passage sharing more than this share of its word 3-grams (Jaccard) "
        "with one already picked: the same wire story on several sites. 1 = keep all.",
    )
    lede_slot: bool = Field(
        True,
        description="An article's second passage is its opening chunk when that chunk was found "
        "at all (news is written lede-first; the best chunk keeps the first slot). Chosen by "
        "week-wise cross-validation in 2 of 4 folds; on full pages Hits@4 0.695 against 0.644.",
    )
    recency_weight: float = Field(
        0.5,
        ge=0,
        description="Weight of the ranking by closeness to the as-of day in fusion; 0.5 with "
        "window_weight 1 was chosen in every fold of the week-wise cross-validation.",
    )
    window_weight: float = Field(
        1.0,
        ge=0,
        description="Fusion bonus for articles inside the window a question names "
        "('this week', 'yesterday').",
    )
    sentence_weight: float = Field(
        0.75,
        ge=0,
        description="Weight in fusion of the ranking by each candidate's sentence closest to the "
        "question (a chunk's own vector averages its sentences and its title); no fold of the "
        "week-wise cross-validation chose it off (README). 0 = off.",
    )
    sentence_candidates: int = Field(
        20,
        ge=1,
        description="How many of the best fused candidates get that ranking: their sentences "
        "are embedded at question time, about 2 ms each on 2 cores.",
    )
    last_try: bool = Field(
        True,
        description="A first question refused at every try is asked once more over the closest "
        "passage that reports its own story (see last_try_share, last_try_days), with a worked "
        "example of an answer a source states in passing.",
    )
    last_try_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="That passage holds every name the question names and at least this share "
        "of its content words. 0.5 was chosen in 7 of 8 week-folds of the dev sets (0.6 in one); "
        "held out, 64 right and 19 wrong answers where 59 and 17 without the try (README).",
    )
    last_try_days: int = Field(
        7,
        ge=0,
        description="For a question asked as of a day, that passage is at most this many days "
        "older.",
    )
    mmr: bool = Field(False, description="Diversify passages with maximal marginal relevance.")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="MMR trade-off: 1 = relevance only.")
    min_similarity: float = Field(
        0.34,
        description="If no passage has a cosine similarity above this, abstain without the LLM.",
    )
    retry_similarity: float = Field(
        0.55,
        description="When the model refuses although the first passage's cosine similarity (or "
        "else the closest one's) is at least this, ask once more with that passage alone (0.55: "
        "reached by the closest remaining passage for 11% of RealTime QA 2020 questions once "
        "their evidence is removed).",
    )
    retry_passages: int = Field(
        3,
        ge=0,
        description="After a refusal, ask with up to this many passages alone, each at least "
        "retry_similarity close: the first (or the closest), then the other passages of its "
        "article. 0 = no second try.",
    )


class LLMSettings(_Group):
    backend: str = Field(
        "llamacpp",
        description="; ".join(f"{name}: {b.help}" for name, b in BACKENDS.items()),
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
    prompt_states: int = Field(
        4,
        ge=0,
        description="Local model states kept in memory (13-30 MB each), so the rewrite and the "
        "answer prompts, which alternate in a conversation, do not re-read their instructions, "
        "nor a question asked again its sources (0: off).",
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown LLM backend {value!r}; use one of {', '.join(BACKENDS)}")
        return value


class WebSettings(_Group):
    timeout: float = Field(
        20.0, gt=0, description="Seconds allowed for one page or feed, first byte to last."
    )
    host_delay: float = Field(
        1.0, ge=0, description="Politeness: seconds between two requests to the same host."
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed before giving up.")
    max_feed_items: int = Field(
        50, ge=1, description="Items read from one feed (in the feed's order, newest first)."
    )
    allow_private_hosts: bool = Field(
        False,
        description="Fetch from loopback, private and link-local addresses (an intranet). Off, "
        "so that whoever may add URLs in the UI cannot make the server read internal services.",
    )
    user_agent: str = Field(
        "news-assistant/0.1 (article indexer)",
        description="Sent with every request and matched against robots.txt rules.",
    )


class StoreSettings(_Group):
    backend: Literal["faiss", "postgres"] = Field(
        "faiss",
        description="faiss: an index folder (index_dir), no server; postgres: a PostgreSQL "
        "database with pgvector at `url`, shared by many processes and machines. Setting "
        "`url` alone selects postgres.",
    )
    url: str | None = Field(
        None, description="postgresql://user:password@host:port/database for backend postgres."
    )
    pool_size: int = Field(4, ge=1, description="Most database connections one process holds.")

    @model_validator(mode="before")
    @classmethod
    def _url_selects_postgres(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("url") and "backend" not in values:
            return {**values, "backend": "postgres"}
        return values

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> StoreSettings:
        if self.backend == "postgres" and not self.url:
            raise ValueError(
                "store.backend is postgres but store.url is not set; set ASSISTANT_STORE__URL "
                "or pass --store-url postgresql://user@host:port/database"
            )
        return self


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
        5_000_000,
        ge=1000,
        description="Larger articles are rejected: a file, a web page, or one line of a JSON "
        "Lines file (a collection is limited per article, not as a whole).",
    )
    clean_text: bool = Field(
        True,
        description="Drop page furniture (menus, notices, related-link lists) from plain-text "
        "articles before indexing; HTML is always cleaned by trafilatura.",
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
    web: WebSettings = WebSettings()
    store: StoreSettings = StoreSettings()
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
