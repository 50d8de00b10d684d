"""`Annotated` dependencies for route handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dfr.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The database engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; committed by the handler."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_default_agency_id(request: Request) -> str:
    """The agency new resources belong to when none is named."""
    agency_id: str = request.app.state.default_agency_id
    return agency_id


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
DefaultAgencyDep = Annotated[str, Depends(get_default_agency_id)]
