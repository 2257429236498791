"""FastAPI dependencies as Annotated aliases: routes read as typed signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from .custom_resources import CustomResources
from .settings import ApiSettings
from .task_service import TaskService


def _service(request: Request) -> TaskService:
    svc: TaskService = request.app.state.tasks
    return svc


def _crs(request: Request) -> CustomResources:
    crs: CustomResources = request.app.state.crs
    return crs


def _sessions(request: Request) -> sessionmaker[Session]:
    sm: sessionmaker[Session] = request.app.state.sessions
    return sm


def _settings(request: Request) -> ApiSettings:
    s: ApiSettings = request.app.state.settings
    return s


TasksDep = Annotated[TaskService, Depends(_service)]
CustomResourcesDep = Annotated[CustomResources, Depends(_crs)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]
