from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Connected shops"

    def ready(self) -> None:
        # The cases know no shop: the shop plugs its refund channels into them (docs/architecture.md).
        from cases import refund_channels
        from shop.refunds import WooCommerceRefunds
        from shop.stripe_refunds import StripeRefunds

        refund_channels.register(WooCommerceRefunds())
        refund_channels.register(StripeRefunds())
