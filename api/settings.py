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
    migrate: bool = Field(default=True, description="Create/upgrade the database schema at start.")
    host: str = Field(default="127.0.0.1", description="Address uvicorn binds (kubetask-api).")
    port: int = Field(default=8080, description="Port uvicorn binds (kubetask-api).")
