from django.contrib import admin


class BackofficeAdminSite(admin.AdminSite):
    site_header = "Refund back office"
    site_title = "Refund back office"
    index_title = "Cases, orders and policies"
