from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from rules.engine import REASONS, ArrivalWindow, Policy
from rules.wording import TextError, disagreements, render, render_or_blank


class PolicyVersion(models.Model):
    """One published version of a storefront's refund policy (S1-VERSIONING).

    A case is judged by the version in force at purchase time. The parameters below switch each
    rule of the engine on or off; the clause each rule cites is named in ``help_text``.
    """

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="policy_versions")
    version = models.CharField(max_length=40, help_text="Label shown in decisions, e.g. the 'Last updated' date.")
    effective_from = models.DateTimeField(help_text="Purchases from this moment on are judged by this version.")
    code = models.CharField(max_length=8, help_text="Clause ID prefix of this policy text, e.g. S0 or S1.")
    text = models.TextField(blank=True, help_text=(
        "The published policy text. Write each number of hours or days, and each exclusion, as the rule it "
        "states, e.g. {{ window_hours }} or {% if excludes.changed_mind %}…{% endif %}: the text then follows "
        "the rules below."))

    full_refund_window_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="S0-WINDOW: full refund when requested within this many hours of purchase."
    )
    prorate_after_window = models.BooleanField(
        default=False, help_text="S0-PARTIAL: after the window, refund the unused part of the subscription."
    )
    fix_first = models.BooleanField(
        default=False, help_text="S0-FIX-FIRST: technical issues need a failed (or expired) fix attempt first."
    )
    fix_window_hours = models.PositiveIntegerField(default=48, help_text="S0-FIX-48H: hours the team has to fix.")
    outage_guarantee_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="S0-OUTAGE: outages longer than this give a refund or an extension."
    )
    short_outage_clause = models.CharField(
        max_length=32, blank=True, help_text="Clause that denies outages up to the guarantee (S0-NO-INTERMITTENT)."
    )
    used_on_delivery = models.BooleanField(
        default=False, help_text="S1-USED-ON-DELIVERY: the service counts as used once access details are sent."
    )
    discretion_after_delivery = models.BooleanField(
        default=False, help_text="S1-DISCRETION: delivered cases go to a manager's decision."
    )
    exclusions = models.JSONField(
        default=dict, blank=True, help_text="Reason code → clause ID of the reasons this version never refunds."
    )
    evidence_clause = models.CharField(max_length=32, blank=True, help_text="S0-EVIDENCE / S1-VERIFY.")
    arrival_card_min = models.PositiveIntegerField(default=20)
    arrival_card_max = models.PositiveIntegerField(default=31)
    arrival_card_worst = models.PositiveIntegerField(default=90)
    arrival_other_min = models.PositiveIntegerField(default=20)
    arrival_other_max = models.PositiveIntegerField(default=90)
    arrival_other_worst = models.PositiveIntegerField(default=90)
    chargeback_sanction = models.BooleanField(
        default=False, help_text="S1-CHARGEBACK: suspend and restrict on a chargeback without prior contact."
    )
    statutory_override = models.BooleanField(
        default=False, help_text="S1-STATUTORY: managers may approve on a written legal basis despite the policy."
    )

    class Meta:
        ordering = ["storefront", "effective_from"]
        permissions = [("simulate_policy", "Can use the policy simulator")]
        constraints = [
            models.UniqueConstraint(fields=["storefront", "version"], name="policy_version_unique_label"),
            models.UniqueConstraint(fields=["storefront", "effective_from"], name="policy_version_unique_start"),
            models.CheckConstraint(
                condition=models.Q(arrival_card_min__lte=models.F("arrival_card_max"))
                & models.Q(arrival_card_max__lte=models.F("arrival_card_worst"))
                & models.Q(arrival_other_min__lte=models.F("arrival_other_max"))
                & models.Q(arrival_other_max__lte=models.F("arrival_other_worst")),
                name="policy_version_arrival_ordered",
            ),
        ]

    # A draft may disagree with its rules while it is being edited; the version it becomes may not.
    text_must_agree = True

    def __str__(self) -> str:
        return f"{self.storefront.slug} {self.version}"

    def rendered_text(self) -> str:
        """The policy text as customers read it, with this version's rules in it."""
        return render_or_blank(self.text, self.to_policy())

    def text_problems(self) -> list[str]:
        """Where this version's text, or its storefront's clause texts, state a rule it does not have."""
        policy = self.to_policy()
        others = PolicyVersion.objects.filter(storefront_id=self.storefront_id).exclude(pk=self.pk)
        before = others.order_by("-effective_from").first()
        base = before.to_policy() if before is not None else None
        # An exclusion clause this version no longer cites is not part of it, whatever its text says.
        every = PolicyVersion.objects.filter(storefront_id=self.storefront_id).values_list("exclusions", flat=True)
        excluding = {c for exclusions in every for c in (exclusions or {}).values()}
        dropped = excluding - set(policy.exclusions.values()) - {policy.short_outage_clause}
        try:
            problems = disagreements(self.text, policy, base=base)
        except TextError as error:
            problems = [str(error)]
        for clause in Clause.objects.filter(storefront_id=self.storefront_id).exclude(clause_id__in=dropped):
            for text in (clause.summary, clause.action):
                try:
                    problems += disagreements(text, policy, base=base, clause=clause.clause_id,
                                              where=f"The text of clause {clause.clause_id}")
                except TextError as error:
                    problems.append(f"The text of clause {clause.clause_id}: {error}")
        return problems

    def judges_cases(self) -> bool:
        """Some refund case is on an order purchased while this version was in force."""
        versions = PolicyVersion.objects.filter(storefront_id=self.storefront_id)
        orders = self.storefront.orders.filter(cases__isnull=False)
        if versions.filter(effective_from__lt=self.effective_from).exists():
            orders = orders.filter(purchased_at__gte=self.effective_from)
        following = versions.filter(effective_from__gt=self.effective_from).order_by("effective_from").first()
        if following is not None:
            orders = orders.filter(purchased_at__lt=following.effective_from)
        return orders.exists()

    def clean(self) -> None:
        stored = None
        if self.pk is not None:
            stored = PolicyVersion.objects.select_related("storefront").get(pk=self.pk)
            changed = [f.name for f in self._meta.concrete_fields if getattr(stored, f.attname) != getattr(self, f.attname)]
            if changed and stored.judges_cases():
                # Decisions already taken cite this version; editing it would rewrite their grounds.
                raise ValidationError(
                    "Refund cases were already judged by this version, so it cannot change. "
                    "Start a draft from it, backtest it and publish it with a later start instead."
                )
        self._check_start(stored, now=timezone.now())
        if not isinstance(self.exclusions, dict):
            raise ValidationError({"exclusions": "Give an object mapping reason codes to clause IDs."})
        unknown = sorted(set(self.exclusions) - set(REASONS))
        if unknown:
            raise ValidationError({"exclusions": f"Unknown reason code(s): {', '.join(unknown)}."})
        uncited = sorted(r for r, clause in self.exclusions.items() if not isinstance(clause, str) or not clause.strip())
        if uncited:
            # An exclusion is only as good as the clause it cites to the customer.
            raise ValidationError({"exclusions": f"Name the clause that excludes: {', '.join(uncited)}."})
        self._check_text()

    def _check_text(self) -> None:
        if self.storefront_id is None:
            return
        try:
            render(self.text, self.to_policy())
        except TextError as error:
            raise ValidationError({"text": str(error)}) from None
        if self.text_must_agree:
            problems = self.text_problems()
            if problems:
                raise ValidationError({"text": problems})

    def _check_start(self, stored: PolicyVersion | None, *, now) -> None:
        """S1-VERSIONING: a start never reaches back over purchases another version already judged.

        A version in force keeps its start; a new one (or a moved future one) starts from now on, and a
        new one after every version of its storefront, so the version of a past purchase never changes.
        """
        if self.effective_from is None or self.storefront_id is None:
            return  # the field's own "required" error says it
        moved = stored is None or (stored.effective_from, stored.storefront_id) != (
            self.effective_from, self.storefront_id)
        if not moved:
            return
        if stored is not None and stored.effective_from <= now:
            raise ValidationError({"effective_from": (
                f"This version has been in force since {_moment(stored.effective_from)}, so its start (and "
                f"storefront) cannot change. Start a draft from it, backtest it and publish it with a later start instead."
            )})
        if self.effective_from < now:
            raise ValidationError({"effective_from": (
                f"A policy version cannot start in the past: choose a start from now on "
                f"(it is now {_moment(now)}). Orders already bought keep the version they were bought under."
            )})
        if stored is None:
            latest = (PolicyVersion.objects.filter(storefront_id=self.storefront_id)
                      .order_by("-effective_from").first())
            if latest is not None and self.effective_from <= latest.effective_from:
                raise ValidationError({"effective_from": (
                    f"A new version must start after every version of this storefront; the latest, "
                    f"{latest.version}, starts {_moment(latest.effective_from)}."
                )})

    def to_policy(self) -> Policy:
        return Policy(
            storefront=self.storefront.slug,
            version=self.version,
            code=self.code,
            full_refund_window_hours=self.full_refund_window_hours,
            prorate_after_window=self.prorate_after_window,
            fix_first=self.fix_first,
            fix_window_hours=self.fix_window_hours,
            outage_guarantee_hours=self.outage_guarantee_hours,
            short_outage_clause=self.short_outage_clause or None,
            used_on_delivery=self.used_on_delivery,
            discretion_after_delivery=self.discretion_after_delivery,
            exclusions=dict(self.exclusions or {}),
            arrival_card=ArrivalWindow(self.arrival_card_min, self.arrival_card_max, self.arrival_card_worst),
            arrival_other=ArrivalWindow(self.arrival_other_min, self.arrival_other_max, self.arrival_other_worst),
            chargeback_sanction=self.chargeback_sanction,
            statutory_override=self.statutory_override,
            evidence_clause=self.evidence_clause,
        )


def _moment(moment) -> str:
    """A time in the words of the staff pages: "7 Dec 2026, 23:04 UTC"."""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


class Clause(models.Model):
    """The text behind a clause ID, shown in the decision panel next to the decision that cites it.

    Storefront-less rows are the house rules (H-*), which apply to every storefront.
    """

    storefront = models.ForeignKey(
        "orders.Storefront", null=True, blank=True, on_delete=models.CASCADE, related_name="clauses"
    )
    clause_id = models.CharField(max_length=32, unique=True)
    summary = models.TextField(help_text="The clause, short.")
    action = models.TextField(blank=True, help_text="What the back office does about it.")

    class Meta:
        ordering = ["clause_id"]

    def __str__(self) -> str:
        return self.clause_id

    def clean(self) -> None:
        # Rendered with the shipped defaults only to find a broken tag or an unknown name.
        probe = Policy(storefront="", version="", code="", full_refund_window_hours=48, outage_guarantee_hours=48)
        for field in ("summary", "action"):
            try:
                render(getattr(self, field), probe)
            except TextError as error:
                raise ValidationError({field: str(error)}) from None


# Drafts live in their own module; imported here so Django finds the model.
from policies.drafts import PolicyDraft  # noqa: E402, F401
