from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("woocommerce/<slug:slug>/", views.woocommerce_delivery, name="woocommerce_delivery"),
]
