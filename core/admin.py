"""The admin's second-factor pages in the site's lists; django-otp's own device pages taken out."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.admin_site import Tool
from core.second_factor.devices import RESET_PERMISSION

# Their change pages show a device's secret and let anyone with the model's permission edit or move
# it to another user. Devices are set up by their owner and removed by a reset (core/second_factor).
for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def second_factor_tools(request, site) -> list[Tool]:
    if not request.user.has_perm(RESET_PERMISSION):
        return []
    return [Tool("Staff second factors (reset a lost device)", reverse(f"{site.name}:second_factor_staff"))]


admin.site.register_tools(second_factor_tools, position=90)
