"""Reads for the staff workplace: the case list, the case page and the queues on the admin index."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When

from cases.checks import transition_error
from cases.models import CaseEvent, Evidence, RefundCase, RefundRequest
from cases.refund_channels import RefundChannel, channel_for
from cases.states import OPEN_STATES, UNDECIDED_STATES
from core.errors import CaseActionError, Code
from orders.models import Chargeback, Order, Storefront


def overdue_q(*, now: datetime) -> Q:
    """The queue of cases needing attention: overdue, or flagged for the assignee (see ``is_overdue``)."""
    return Q(next_deadline__lt=now) | Q(flagged=True)


def is_overdue(case: RefundCase, *, now: datetime) -> bool:
    """A deadline the case waits for has passed.

    A flag is a different signal (the customer answered, a chargeback came in): it is shown on its own.
    """
    return case.next_deadline is not None and case.next_deadline < now


def needs_manager_q() -> Q:
    """Undecided cases whose last decision leaves them to a manager (the column mirrors the snapshot)."""
    return Q(needs_manager=True, state__in=list(UNDECIDED_STATES))


def case_list_queryset() -> QuerySet[RefundCase]:
    return RefundCase.objects.select_related("order__storefront", "order__customer", "assignee", "approved_by")


def case_page_queryset() -> QuerySet[RefundCase]:
    """The case with everything the page reads of one row each, and whether it has any evidence,
    portal links and e-mails: the page skips the query for a list it knows to be empty."""
    from cases.models import CaseLink
    from cases.models_mail import OutboxMessage

    return RefundCase.objects.select_related(
        "order__storefront", "order__customer", "order__plan", "order__subscription", "assignee", "approved_by",
        "payout__paid_by",
    ).annotate(
        refund_waiting=Exists(RefundRequest.objects.filter(case=OuterRef("pk"), status=RefundRequest.Status.SENDING)),
        has_refund_requests=Exists(RefundRequest.objects.filter(case=OuterRef("pk"))),
        has_evidence=Exists(Evidence.objects.filter(case=OuterRef("pk"))),
        has_links=Exists(CaseLink.objects.filter(case=OuterRef("pk"))),
        has_mail=Exists(OutboxMessage.objects.filter(case=OuterRef("pk"))),
    )


def case_display_amount(case: RefundCase) -> tuple[Decimal | None, str]:
    """The approved amount once there is one, else what the last decision snapshot allowed."""
    currency = (case.decision or {}).get("currency") or case.order.currency
    if case.approved_amount is not None:
        return case.approved_amount, currency
    raw = (case.decision or {}).get("refund_amount")
    return (Decimal(raw), currency) if raw is not None else (None, currency)


def case_refund_requests(*, case: RefundCase) -> list[RefundRequest]:
    """The refunds sent to a shop for the case, newest first."""
    if getattr(case, "has_refund_requests", True) is False:
        return []
    return list(case.refund_requests.select_related("requested_by").order_by("-requested_at", "-id"))


@dataclass(frozen=True)
class PayRoute:
    """How paying an approved case moves the money (docs/shop.md).

    ``channel``: the refund goes out through a shop, and is paid once the shop confirms it. ``None``:
    the manager moves the money and types its reference, as before. ``api_refund``: the shop can return
    the money through the order's gateway, so there is no reference to type; it does when the payout
    goes back by the order's own method and the manager typed no reference (a reference says the money
    was already moved by hand: the shop then only records the refund). ``held``: the shop recorded a
    refund of this case without returning the money; it is paid by hand, on that refund, and nothing is
    sent to the shop again.
    """

    channel: RefundChannel | None
    api_refund: bool = False
    held: RefundRequest | None = None

    def api_refund_for(self, *, order: Order, method: str, reference: str) -> bool:
        return self.channel is not None and self.api_refund and method == order.payment_method and not reference

    def reference_required(self, *, order: Order, method: str) -> bool:
        return not self.api_refund_for(order=order, method=method, reference="")


def pay_route(*, case: RefundCase, requests: list[RefundRequest] | None = None) -> PayRoute:
    """How the case would be paid now; ``requests`` are its refund requests if the caller has read them."""
    if requests is None:
        latest = case.refund_requests.order_by("-requested_at", "-id").first()
    else:
        latest = requests[0] if requests else None
    if latest is not None and latest.status == RefundRequest.Status.HELD:
        return PayRoute(channel=None, held=latest)
    channel = channel_for(case.order)
    if channel is None:
        return PayRoute(channel=None)
    return PayRoute(channel=channel, api_refund=channel.api_refund(case.order))


def case_timeline(*, case: RefundCase) -> list[CaseEvent]:
    """The case's history, newest first: the agent answering a customer wants the latest word on top."""
    return list(case.events.select_related("actor").order_by("-created_at", "-id"))


def case_evidence(*, case: RefundCase) -> list[Evidence]:
    if getattr(case, "has_evidence", True) is False:
        return []
    return list(case.evidence.select_related("uploaded_by").order_by("created_at", "id"))


# How much of a customer's past the case page lists; the counts above the lists stay exact enough
# for a glance ("20+"), and a million cases never reach the page.
CUSTOMER_HISTORY_LIMIT = 20


@dataclass(frozen=True)
class CustomerHistory:
    """What the same e-mail did before, on every storefront: abuse shows across shops (001)."""

    email: str
    order_id: int  # the case's own order
    orders: list[Order]  # the e-mail's other orders, newest first, with their refunded and charged-back sums
    cases: list[RefundCase]  # the e-mail's other cases, this order's included
    # Every other case on the case's own order, when the query read them all (else None).
    order_cases: list[RefundCase] | None = None

    def cases_on(self, order_id: int) -> list[RefundCase]:
        return [c for c in self.cases if c.order_id == order_id]

    @property
    def cases_elsewhere(self) -> list[RefundCase]:
        return [c for c in self.cases if c.order_id != self.order_id]

    @property
    def charged_back_elsewhere(self) -> list[Order]:
        return [o for o in self.orders if o.charged_back_amount]

    @property
    def is_empty(self) -> bool:
        return not (self.orders or self.cases_elsewhere)


# What the page shows of the customer's other orders and cases; read together in one query.
HISTORY_ROWS = 3 * (CUSTOMER_HISTORY_LIMIT + 1)
_HISTORY_ORDER_FIELDS = ("id", "number", "amount", "currency", "purchased_at", "refunded_amount",
                         "charged_back_amount", "storefront_id")
_HISTORY_CASE_FIELDS = ("id", "number", "order_id", "reason", "state", "requested_at", "approved_amount")


def customer_history(*, case: RefundCase) -> CustomerHistory:
    """One query, whatever the customer's past: the e-mail's orders, the case's own first, then the
    newest, each with its cases (a LEFT JOIN), at most ``HISTORY_ROWS`` rows of them. The index on
    the e-mail finds the customer's few orders; the order's own sums say where chargebacks are.

    The cases listed are those on the orders these rows reach: a customer with more orders than the
    page lists may have older cases that are not. The case's own order comes first, so its other
    cases are all there (``CustomerHistory.order_cases``) unless the order has more than the rows.
    """
    email = case.order.customer.email
    limit = CUSTOMER_HISTORY_LIMIT
    rows = list(
        Order.objects.filter(customer__email=email)
        .order_by(Case(When(pk=case.order_id, then=Value(0)), default=Value(1)), "-purchased_at", "-id")
        .values(*_HISTORY_ORDER_FIELDS, "storefront__name", "storefront__slug",
                *(f"cases__{name}" for name in _HISTORY_CASE_FIELDS))[:HISTORY_ROWS]
    )
    db = Order.objects.db
    orders: dict[int, Order] = {}
    cases: list[RefundCase] = []
    for row in rows:
        order = orders.get(row["id"])
        if order is None:
            order = orders[row["id"]] = _partial(Order, db, {name: row[name] for name in _HISTORY_ORDER_FIELDS})
            order.storefront = _partial(Storefront, db, {
                "id": row["storefront_id"], "name": row["storefront__name"], "slug": row["storefront__slug"]})
        if row["cases__id"] is not None and row["cases__id"] != case.pk:
            other = _partial(RefundCase, db, {name: row[f"cases__{name}"] for name in _HISTORY_CASE_FIELDS})
            other.order = order
            cases.append(other)
    own_complete = len(rows) < HISTORY_ROWS or rows[-1]["id"] != case.order_id
    cases.sort(key=lambda c: (c.requested_at, c.pk), reverse=True)
    others = [order for pk, order in orders.items() if pk != case.order_id][:limit]
    return CustomerHistory(
        email=email, order_id=case.order_id, orders=others, cases=cases[:limit],
        order_cases=[c for c in cases if c.order_id == case.order_id] if own_complete else None,
    )


def _partial(model, db: str, values: dict):
    """A model instance from some of its columns, as the ORM builds one for ``only()``: the others
    are deferred (read on access, never silently a default)."""
    fields = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(db, fields, [values[name] for name in fields])


def order_chargebacks(order: Order) -> list[Chargeback]:
    # The running sum is kept with every chargeback (H-CAP): no query for the many orders without one.
    return list(order.chargebacks.order_by("opened_at", "id")) if order.charged_back_amount else []


def assignable_users() -> QuerySet:
    """Active staff who can work cases: the people a case can be handed to."""
    codename = "work_refundcase"
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label="cases")
            | Q(user_permissions__codename=codename, user_permissions__content_type__app_label="cases")
        )
        .distinct()
        .order_by("username")
    )


def open_cases_for(*, user) -> QuerySet[RefundCase]:
    return RefundCase.objects.filter(assignee=user, state__in=list(OPEN_STATES))


@dataclass(frozen=True)
class TransitionOption:
    name: str
    label: str
    error: CaseActionError | None

    @property
    def allowed(self) -> bool:
        return self.error is None

    @property
    def wrong_state(self) -> bool:
        return self.error is not None and self.error.code == Code.WRONG_STATE


def transition_options(
    *, case: RefundCase, user, transitions: Iterable[tuple[str, str]], now: datetime
) -> list[TransitionOption]:
    """Each of ``transitions`` (name, label) with why ``user`` may not take it at ``now`` (``error``), in that order.

    The page passes the moment its decision panel shows, so that every check agrees with it.
    """
    return [
        TransitionOption(name=name, label=label, error=transition_error(case=case, user=user, name=name, now=now))
        for name, label in transitions
    ]
