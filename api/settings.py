"""The service's settings, read from ``LASTMILE_*`` environment variables with safe defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

import data

SHIPPED_SCENARIO = Path(data.__file__).resolve().parent / "paris"


class Settings(BaseSettings):
    """How the service runs. Every field is read from ``LASTMILE_<FIELD>``.

    Parameters
    ----------
    state_dir
        Folder for the service's own files (the default SQLite database).
    database_url
        SQLAlchemy URL; default ``sqlite:///<state_dir>/lastmile.db``. ``postgresql://``
        URLs use psycopg 3.
    scenario
        The scenario folder the service serves (default: the shipped Paris day).
    api_keys_file
        Optional YAML or JSON file ``{checkout: [keys], planner: [keys], driver: {key:
        [vehicle ids]}}``.
    checkout_keys, planner_keys
        Plain keys, comma-separated in the environment. Stored hashed; with no key at
        all for a role, the service generates one at first start and prints it once.
    driver_keys
        Driver keys, each ``KEY:VEHICLE[,VEHICLE...]`` (the vehicles it reports for),
        separated by ``;`` in the environment. Never generated.
    hold_ttl_s
        How long a stock hold lives before it expires, in seconds.
    plan_time_limit_s
        Default routing budget of a plan job, in seconds.
    secret
        The server secret that signs tracking tokens and option ids (at least 32
        characters). Default: none; the service keeps a random one (:mod:`api.secret`).
        Give every instance of one service the same value.
    tracking_token_days
        How long a customer's tracking link works: until the end of this many days after
        the day it was issued (the confirm answer, a checkout key's tracking answer).
    clock
        The service's clock (:mod:`api.clock`): ``system`` (default), an ISO 8601
        instant with offset to start from and run on (a replay, a demo), or one followed
        by `` frozen`` (it then stays there).
    webhook_attempts
        How many times a webhook delivery is tried before it is ``failed`` (replayable).
    webhook_backoff_s, webhook_backoff_max_s
        The wait after the n-th failed attempt: ``webhook_backoff_s * 2**(n-1)`` seconds,
        at most ``webhook_backoff_max_s``.
    webhook_timeout_s
        How long a receiver has to answer one attempt.
    webhook_poll_s
        How often the deliverer looks for due deliveries.
    webhook_deliver
        False: the service writes webhooks to its outbox but sends none (another
        instance, or a later start, delivers them).
    webhook_allow_private
        True: webhook URLs may name private, loopback or link-local addresses (a
        receiver on the same machine or network: tests, demos). False (default): such
        URLs are refused at subscription and at every delivery, so a subscription cannot
        make the service POST into its own network.
    """

    model_config = SettingsConfigDict(env_prefix="LASTMILE_", extra="ignore")

    state_dir: Path = Path(".lastmile")
    database_url: str = ""
    scenario: Path = SHIPPED_SCENARIO
    api_keys_file: Path | None = None
    checkout_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    planner_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    driver_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    hold_ttl_s: int = Field(600, gt=0)
    plan_time_limit_s: float = Field(30.0, ge=1, le=600)
    secret: SecretStr | None = Field(None, min_length=32)
    tracking_token_days: int = Field(30, ge=1, le=366)
    clock: str = "system"
    webhook_attempts: int = Field(8, ge=1, le=50)
    webhook_backoff_s: float = Field(2.0, gt=0, le=3600)
    webhook_backoff_max_s: float = Field(3600.0, gt=0)
    webhook_timeout_s: float = Field(10.0, gt=0, le=120)
    webhook_poll_s: float = Field(1.0, gt=0, le=60)
    webhook_deliver: bool = True
    webhook_allow_private: bool = False

    @field_validator("checkout_keys", "planner_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        """``"k1, k2"`` (as an environment variable holds it) -> ``["k1", "k2"]``."""
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("driver_keys", mode="before")
    @classmethod
    def _split_driver_keys(cls, value: object) -> object:
        """``"k1:V1,V2; k2:V3"`` -> ``["k1:V1,V2", "k2:V3"]`` (checked in
        :func:`api.auth.configured_keys`, with the other keys)."""
        if isinstance(value, str):
            return [e.strip() for e in value.split(";") if e.strip()]
        return value

    @field_validator("clock")
    @classmethod
    def _known_clock(cls, value: str) -> str:
        from api.clock import clock_from_setting

        clock_from_setting(value)  # ValueError with the reason
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir.resolve() / 'lastmile.db'}"
        self.scenario = self.scenario.resolve()
        return self
