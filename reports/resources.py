"""The case report as a django-import-export Resource: one field per column of ``reports.columns``.

The admin export, ``export_cases`` and the tests read their column names, order and values from
here. ``Resource.export()`` (import-export's own path, a whole tablib Dataset in memory) gives the
same cells as the streaming writers; those are what large exports use.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db.models import QuerySet
from import_export import fields, resources, widgets

from cases.models import RefundCase
from reports import columns as report_columns
from reports.columns import BOOL, CLAUSES, Column


class BoolTextWidget(widgets.Widget):
    def render(self, value, obj=None, **kwargs):
        return "" if value is None else ("true" if value else "false")


class ClausesWidget(widgets.Widget):
    def render(self, value, obj=None, **kwargs):
        return "" if value is None else ";".join(json.loads(value))


def _widget(column: Column) -> widgets.Widget:
    if column.kind == BOOL:
        return BoolTextWidget()
    if column.kind == CLAUSES:
        return ClausesWidget()
    return widgets.Widget()


class CaseReportResource(resources.Resource):
    """Declared from the column list, so a column is added in one place."""

    def __init__(self, *, now: datetime | None = None, **kwargs):
        super().__init__(**kwargs)
        self.now = now
        self.columns = report_columns.columns(now)

    @classmethod
    def field_from_column(cls, column: Column) -> fields.Field:
        return fields.Field(attribute=column.alias, column_name=column.name, widget=_widget(column), readonly=True)

    def get_queryset(self) -> QuerySet[RefundCase]:
        return report_columns.report_instances(RefundCase.objects.all(), now=self.now)

    def filter_export(self, queryset, **kwargs):
        return report_columns.report_instances(queryset, now=self.now)

    def export_rows(self, queryset: QuerySet[RefundCase]):
        """The raw rows the streaming writers take, for the same cases."""
        return report_columns.report_rows(queryset, now=self.now).iterator(chunk_size=5000)


for _column in report_columns.columns():
    CaseReportResource.fields[_column.name] = CaseReportResource.field_from_column(_column)
