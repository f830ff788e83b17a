from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Connected shops"

    def ready(self) -> None:
        # The cases know no shop: the shop plugs its refund channel into them (docs/architecture.md).
        from cases import refund_channels
        from shop.refunds import WooCommerceRefunds

        refund_channels.register(WooCommerceRefunds())
