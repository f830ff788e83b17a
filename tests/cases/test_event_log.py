"""The case event log is append-only in the database itself (the model's refusals: test_transitions_refusals)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from cases.models import CaseEvent
from tests.cases import open_case


def test_it_refuses_to_change_an_event_in_raw_sql(s0):
    event = open_case(s0).events.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE cases_caseevent SET comment = 'rewritten' WHERE id = %s", [event.pk])
    assert CaseEvent.objects.get(pk=event.pk).comment == ""


@pytest.mark.postgres
def test_it_refuses_to_delete_an_event_in_raw_sql(s0):
    event = open_case(s0).events.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM cases_caseevent WHERE id = %s", [event.pk])
    assert CaseEvent.objects.filter(pk=event.pk).exists()
