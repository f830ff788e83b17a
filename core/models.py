"""Rows of the core app: none knows a refund."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SecondFactorReset(models.Model):
    """A staff member's second factor removed by someone else, because the device was lost.

    The devices themselves are django-otp's rows and go with the reset; this row says who did it and
    when, and carries the permission that allows it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reset_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reset_at = models.DateTimeField()
    removed = models.CharField(max_length=200, help_text="What was removed, in words.")

    class Meta:
        ordering = ["-reset_at", "-pk"]
        default_permissions = ()
        permissions = [("reset_second_factor", "Can reset another staff member's second factor")]

    def __str__(self) -> str:
        return f"Second factor of user {self.user_id} reset by user {self.reset_by_id}"
