"""The one settings object. Every field is read from a ``PARADUP_``-prefixed
environment variable (``PARADUP_STORE``, ``PARADUP_SIMILARITY_THRESHOLD``, ...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARADUP_", extra="ignore", populate_by_name=True)

    store: str = Field(
        "sqlite:///data/paradup.db",
        description="Index location: sqlite:///relative/path.db, sqlite:////absolute/path.db, "
        "a plain file path, or redis://host:port/db",
    )
    resident: Literal["off", "index", "all"] = Field(
        "off",
        description="keep an embedded store's pages in memory (mlock) so that the kernel's "
        "reclaim never sends a check to the disk: index (its run files) or all (the database "
        "file too); needs CAP_IPC_LOCK or a locked-memory limit (ulimit -l) as large as the "
        "files, else a warning and the store runs unlocked. No effect on Redis",
    )

    # Detection. A match is flagged when either score reaches its threshold.
    similarity_threshold: float = Field(0.5, gt=0.0, le=1.0, description="Jaccard of the shingle sets")
    containment_threshold: float = Field(
        0.8, gt=0.0, le=1.0, description="share of the smaller paragraph's shingles found in the other"
    )
    # Fingerprints. Changing these needs a new index (the store refuses to
    # open one built with other values).
    lsh_bands: str = Field(
        "27x3",
        pattern=r"^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$",
        description="LSH band shape, bands x rows (27x3: a pair at Jaccard 0.5 shares a band "
        "97 % of the time, one at 0.05 0.3 %; copies below that are proposed by their shared "
        "passages). Used unless lsh_threshold is set; see docs/quality.md",
    )
    lsh_threshold: float = Field(
        0.4,
        gt=0.0,
        lt=1.0,
        description="when set (and lsh_bands is not), the bands are tuned for this Jaccard "
        "instead (0.4: 27 bands x 2 rows, the default before 27x3; 0.3: 49 x 2, before "
        "passages existed). Below the similarity threshold",
    )
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_size: int = Field(3, ge=1, le=16, description="tokens per shingle")
    min_shingles: int = Field(
        6,
        ge=1,
        description="paragraphs with fewer shingles are 'short': matched only by exact "
        "repetition inside the same article",
    )
    max_candidates: int = Field(
        200, ge=1, description="archive candidates verified per paragraph (most shared bands first)"
    )
    boilerplate_min_documents: int = Field(
        8,
        ge=0,
        description="a paragraph matching this many archived documents or more is reported as "
        "boilerplate (no matches listed); 0 disables the rule",
    )

    # Passages (runs of words shared with an earlier paragraph or the archive;
    # see docs/quality.md for how the defaults were chosen). The k-gram and
    # window are part of the index scheme, like the fingerprint settings.
    passages: bool = Field(
        True, description="index passage fingerprints with each paragraph (false: bands only)"
    )
    passage_kgram: int = Field(4, ge=2, le=16, description="tokens per fingerprinted k-gram")
    passage_window: int = Field(
        4, ge=1, le=64, description="winnowing window: any shared run of kgram + window - 1 tokens is seeded"
    )
    passage_min_tokens: int = Field(
        12, ge=2, description="equal tokens a passage holds at least (characters for Chinese/Japanese/Thai)"
    )
    passage_max_postings: int = Field(
        10,
        ge=1,
        description="a fingerprint indexed for more archived paragraphs is a formula, not a seed",
    )

    # Limits.
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    max_paragraphs: int = Field(
        1000,
        ge=1,
        description="paragraphs per checked or ingested document (the cost of the worst request "
        "grows with it: README, Security and operations)",
    )
    max_batch_documents: int = Field(1000, ge=1, description="documents per ingest request")

    max_paragraph_chars: int = Field(100_000, ge=100, description="longest accepted paragraph")
    max_metadata_bytes: int = Field(
        64 * 1024,
        ge=2,
        description="largest accepted metadata of a document, as compact UTF-8 JSON (a filtered "
        "check reads every candidate's metadata)",
    )
    reject_control_chars: bool = Field(
        False,
        description="answer 422 to text holding C0/C1 control characters; by default they are "
        "replaced by spaces (NUL is always refused)",
    )
    request_timeout: float = Field(
        30.0, gt=0, description="seconds before a request answers 504 (its work then stops)"
    )
    body_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds to wait for the next piece of a request body (408 after): a body "
        "announced longer than what is sent does not hold the request",
    )
    work_threads: int = Field(
        2, ge=1, description="checks and ingests run at once per worker process (the others queue)"
    )

    # Access control. With keys set, writes need "Authorization: Bearer <key>".
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        # PARADUP_API_KEY is the documented name; the plural reads naturally too.
        validation_alias=AliasChoices("PARADUP_API_KEY", "PARADUP_API_KEYS", "api_keys"),
        description="comma-separated accepted API keys; empty disables auth",
    )
    auth_reads: bool = Field(False, description="also require a key for /check, documents and stats")

    # Operations.
    log_format: Literal["json", "text"] = "json"
    log_level: str = "info"

    # Serving.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    header_timeout: float = Field(
        10.0, gt=0, description="seconds for a request's line and headers to arrive (408 and closed after)"
    )
    keep_alive_timeout: int = Field(5, ge=1, description="seconds an idle keep-alive connection stays open")
    max_connections: int = Field(
        100,
        ge=1,
        description="open connections per worker process; one more is answered 503 and closed "
        "(bodies are held in memory: this times PARADUP_MAX_BODY_BYTES bounds them)",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _lsh_below_similarity(self) -> Settings:
        if self.lsh_threshold > self.similarity_threshold:
            raise ValueError("lsh_threshold must not exceed similarity_threshold")
        bands, rows = self.band_shape
        if "lsh_bands" in self.model_fields_set and bands * rows > self.num_perm:
            raise ValueError(
                f"lsh_bands {self.lsh_bands} needs {bands * rows} permutations: num_perm is {self.num_perm}"
            )
        return self

    @property
    def band_shape(self) -> tuple[int, int]:
        """(bands, rows) of lsh_bands; ``lsh_threshold`` decides instead when
        it is set and lsh_bands is not (``Fingerprinter.create``)."""
        bands, rows = self.lsh_bands.split("x")
        return int(bands), int(rows)

    @property
    def bands_from_threshold(self) -> bool:
        """lsh_threshold set and lsh_bands not; or neither, with fewer
        permutations than the default shape needs (as before 27 x 3)."""
        if "lsh_bands" in self.model_fields_set:
            return False
        bands, rows = self.band_shape
        return "lsh_threshold" in self.model_fields_set or bands * rows > self.num_perm
