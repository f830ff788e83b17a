"""Draft policy versions (docs/policy-backtest.md); their backtests are the reports app's.

A draft is a separate table on purpose: every read that picks the version judging a case
(``policies.selectors``) reads ``PolicyVersion`` only, so a draft is never in force and cannot
affect a case, whatever its parameters. Publishing copies it into a new ``PolicyVersion``, which
then goes through the version's own rules (S1-VERSIONING: a start from now on, after every version).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from policies.models import PolicyVersion

# The draft's parameters are the version's own fields (same names, defaults, help texts): copied from
# the model below, so a parameter added to PolicyVersion is editable in drafts with no second declaration.
NOT_PARAMETERS = {"id", "storefront", "version", "effective_from"}
PARAMETERS = [f.name for f in PolicyVersion._meta.concrete_fields if f.name not in NOT_PARAMETERS]


class PolicyDraft(models.Model):
    """Editable parameters of a policy version not yet in force."""

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="policy_drafts")
    version = models.CharField(max_length=40, help_text="The label the version will carry once published.")
    based_on = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The version this draft started from (its parameters were copied).",
    )
    published_as = models.OneToOneField(
        PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="draft", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["storefront", "-created_at"]
        permissions = [("backtest_policy", "Can backtest policy drafts and publish them")]

    def __str__(self) -> str:
        return f"{self.storefront.slug} {self.version} (draft)"

    def parameters(self) -> dict:
        """The parameters as JSON values: what a backtest records, to tell whether it still applies."""
        return {name: getattr(self, name) for name in PARAMETERS}

    def as_version(self, *, effective_from=None) -> PolicyVersion:
        """An unsaved version with this draft's parameters (for the engine, validation and publishing)."""
        return PolicyVersion(storefront_id=self.storefront_id, version=self.version, effective_from=effective_from,
                             **self.parameters())

    @classmethod
    def from_version(cls, source: PolicyVersion, /, **extra) -> PolicyDraft:
        """A draft with ``source``'s parameters, ``extra`` overriding any of them (or setting the label)."""
        values = {name: getattr(source, name) for name in PARAMETERS}
        return cls(storefront_id=source.storefront_id, based_on=source, **{**values, **extra})

    def clean(self) -> None:
        if self.published_as_id is not None:
            raise ValidationError("This draft was published; start a new draft to change the policy again.")
        if self.storefront_id is None:
            return
        # The version's own checks (exclusions, arrival order, a free label); its start is chosen on publishing,
        # and its text must agree with its rules by then (publish_draft), not at every save of the draft.
        version = self.as_version()
        version.text_must_agree = False
        version.full_clean(exclude=["effective_from"])

    def text_problems(self) -> list[str]:
        """What publishing would refuse in the texts: a number or an exclusion the rules no longer have."""
        return self.as_version().text_problems()


for _name in PARAMETERS:
    PolicyDraft.add_to_class(_name, PolicyVersion._meta.get_field(_name).clone())

