"""FastAPI dependencies as Annotated aliases: routes read as typed signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from .kube import Kube
from .service import TaskService
from .settings import ApiSettings


def _service(request: Request) -> TaskService:
    svc: TaskService = request.app.state.tasks
    return svc


def _kube(request: Request) -> Kube:
    kube: Kube = request.app.state.kube
    return kube


def _sessions(request: Request) -> sessionmaker[Session]:
    sm: sessionmaker[Session] = request.app.state.sessions
    return sm


def _settings(request: Request) -> ApiSettings:
    s: ApiSettings = request.app.state.settings
    return s


TasksDep = Annotated[TaskService, Depends(_service)]
KubeDep = Annotated[Kube, Depends(_kube)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]
