"""API settings (environment variables prefixed KUBETASK_API_)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Validated at start; documented in README.md (API settings)."""

    model_config = SettingsConfigDict(env_prefix="KUBETASK_API_", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KUBETASK_DATABASE_URL", "KUBETASK_API_DATABASE_URL"),
        description="SQL mirror to read history from; default: SQLite in the user's data directory.",
    )
    max_params_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest params document accepted, in bytes (JSON)."
    )
    max_page_size: int = Field(default=500, ge=1, description="Largest `limit` of a list request.")
    database_connect_timeout_seconds: int = Field(
        default=5,
        ge=2,
        description="Longest wait for a new PostgreSQL connection (libpq's minimum is 2) or a pooled one; then 503.",
    )
    database_statement_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest SQL statement: PostgreSQL cancels it; a server that does not answer at all is "
        "cut off 1 s later; on SQLite, the longest wait for a lock. Then 503.",
    )
    kubernetes_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest apiserver call (a read of one object, a list of one namespace's templates, a create, "
        "patch or delete): connecting, TLS and the answer's headers; a timed-out call is not retried. Then 503.",
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, description="`Retry-After` of a 503 problem (a dependency is unreachable or hung)."
    )
    migrate: bool = Field(default=True, description="Create/upgrade the database schema at start.")
    host: str = Field(default="127.0.0.1", description="Address uvicorn binds (kubetask-api).")
    port: int = Field(default=8080, description="Port uvicorn binds (kubetask-api).")

    # -- authentication and authorization (README, "Authentication and authorization") ----------
    auth: Literal["kubernetes", "none"] = Field(
        default="kubernetes",
        description="`kubernetes`: every /api/v1 request needs a bearer token (TokenReview) and the operation's "
        "permission (SubjectAccessReview). `none`: anyone may do anything, for local development only (a WARNING "
        "at start).",
    )
    impersonate: bool = Field(
        default=False,
        description="The API's writes to the apiserver impersonate the caller (Impersonate-User/Group), so the "
        "apiserver checks and audits them as the caller's; the API's ServiceAccount then needs `impersonate` on "
        "users and groups.",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=10,
        description="How long an accepted token and an allowed permission are believed (seconds): a revoked "
        "RoleBinding or token is obeyed within this time. At most 10.",
    )
    auth_denial_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=5,
        description="How long a refused token or permission is believed (seconds); a new grant is seen within "
        "this time. At most 5.",
    )
    auth_reviews_per_token: float = Field(
        default=20.0,
        gt=0,
        description="Reviews (TokenReview or SubjectAccessReview) one token's requests may cause per second, "
        "beyond those the cache answers; a burst of 5 s worth. More: a 429 with Retry-After.",
    )
    auth_reviews_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Reviews all requests together may cause per second (distinct garbage tokens each miss the "
        "cache); a burst of 5 s worth. More: a 503 with Retry-After.",
    )
    # -- the audit trail (README, "Audit trail") ------------------------------------------------------
    audit_retention_days: int = Field(
        default=90,
        ge=0,
        description="Audit rows older than this many days are deleted (hourly, by each replica); 0 keeps them all.",
    )
