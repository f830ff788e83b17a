"""The customer's forms. Files are read from ``request.FILES`` by the views and judged by the evidence
pipeline, file by file, so that one bad file does not refuse the others."""

from __future__ import annotations

import secrets

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from cases.customer_words import REASON_WORDS
from cases.services.base import MAX_NOTE_LENGTH
from core.uploads.handler import MAX_FILES_PER_REQUEST
from rules.engine import REASONS

ACCEPT_IMAGES = "image/png,image/jpeg,image/webp,image/gif"  # no HEIC: iPhones then send JPEG
MAX_FILES_PER_POST = MAX_FILES_PER_REQUEST  # the upload handler stops reading past it


class _OrderFields(forms.Form):
    order_number = forms.CharField(
        label=_("Order number"), max_length=40, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"}),
        help_text=_("As shown in your order confirmation, e.g. 100234."),
    )
    email = forms.EmailField(
        label=_("E-mail address"), max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("The address you used for the order. We write to that address only."),
    )


class RequestForm(_OrderFields):
    reason = forms.ChoiceField(
        label=_("What went wrong?"), choices=[("", _("Choose one"))] + [(r, REASON_WORDS[r]) for r in REASONS],
    )
    description = forms.CharField(
        label=_("Tell us more"), required=False, max_length=MAX_NOTE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What happened, and since when."),
    )
    # One value per rendered form: the same form sent twice is handled once.
    submission = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission", secrets.token_urlsafe(18))


class LinkForm(_OrderFields):
    pass


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, I no longer want this refund"), required=True)


# A message is read by a person on the case page: a few paragraphs, not a log (files take screenshots).
MAX_MESSAGE_LENGTH = 2000


class MessageForm(forms.Form):
    message = forms.CharField(
        label=_("Your message"), required=False, max_length=MAX_MESSAGE_LENGTH, strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=format_lazy(_(
            "For example which device and app you use, or what you see on the screen. Up to {count} characters."
        ), count=MAX_MESSAGE_LENGTH),
        error_messages={"max_length": _(
            "Your message is too long: %(limit_value)d characters at most (it has %(show_value)d). Shorten it, or "
            "send it in two parts."
        )},
    )
