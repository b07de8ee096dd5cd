"""Deployment settings: ``SUNBID_*`` environment variables, an optional TOML file, then defaults.

Secrets (the CA key, the log signing key, the session secret) are never settings: they are generated on first
run into ``<data_dir>/secrets/`` with 0600 permissions (see :mod:`sunbid.platform.secrets`).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class S3Settings(BaseSettings):
    """An S3-compatible object store (MinIO, SeaweedFS, Ceph, OSS ...)."""

    model_config = SettingsConfigDict(extra="forbid")

    endpoint_url: str | None = None
    bucket: str = "sunbid"
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = Field(default=None, repr=False)
    prefix: str = ""


class NotificationSettings(BaseSettings):
    """Notification channels: e-mail (SMTP or the ``.eml`` simulator) and SMS (HTTP gateway or simulator)."""

    model_config = SettingsConfigDict(extra="forbid")

    email_backend: Literal["simulator", "smtp"] = "simulator"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "sunbid <noreply@localhost>"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_timeout_seconds: float = 30.0
    sms_gateway: Literal["simulator", "http"] = "simulator"
    sms_url: str | None = None
    sms_token: str | None = Field(default=None, repr=False)
    sms_timeout_seconds: float = 10.0
    sms_signature: str | None = None  # 短信签名; the centre's name when unset
    sms_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # simulator only
    sms_seed: int = 0  # simulator only


class Settings(BaseSettings):
    """All settings of one sunbid deployment."""

    model_config = SettingsConfigDict(
        env_prefix="SUNBID_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("./sunbid-data")
    database_url: str | None = None
    storage: Literal["local", "s3"] = "local"
    s3: S3Settings = Field(default_factory=S3Settings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    crypto_suite: Literal["intl", "gm"] = "intl"
    centre_name: str = "示范公共资源交易中心"
    centre_region_code: str = "341700"
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    login_rate_per_minute: int = 10
    session_hours: int = 8
    cookie_secure: bool = False
    embedded_worker: bool = True
    worker_poll_seconds: float = 1.0
    submission_settle_seconds: float = Field(default=10.0, ge=0, le=600)
    """After the bid deadline, how long the close of bidding waits for submissions still in flight.

    A final chunk that reached the server before the deadline is judged on time even if the server commits it a
    few seconds later (a rush of bidders in the last second queues behind one write at a time); the opening
    starts only when such submissions are settled. Nothing received after the deadline is ever accepted."""

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("SUNBID_CONFIG", "sunbid.toml")  # read at load time, not import time
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sunbid.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print: secrets are masked."""
        d = self.model_dump(mode="json")
        if d.get("s3", {}).get("secret_access_key"):
            d["s3"]["secret_access_key"] = "***"  # noqa: S105 - the mask
        for key in ("smtp_password", "sms_token"):
            if d.get("notifications", {}).get(key):
                d["notifications"][key] = "***"
        url = self.resolved_database_url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            if ":" in creds:
                creds = creds.split(":", 1)[0] + ":***"
            url = f"{scheme}://{creds}@{host}"
        d["database_url"] = url
        return d
