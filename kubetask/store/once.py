"""Rows written once per key (a kept log, a large result's verdict): the last step of such a write."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kubetask.store.tables import Base


def add_once(session: Session, row: Base) -> bool:
    """Add `row` and commit; False (rolled back) when its unique key says another writer added it
    between the caller's check and this insert."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True
