"""API settings (environment variables prefixed KUBETASK_API_)."""

from __future__ import annotations

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
