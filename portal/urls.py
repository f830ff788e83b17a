from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    # The case's own addresses first: "c" is never read as a storefront.
    path("c/<str:token>/", views.case_view, name="case"),
    path("c/<str:token>/upload/", views.upload_view, name="upload"),
    path("c/<str:token>/message/", views.message_view, name="message"),
    path("c/<str:token>/withdraw/", views.withdraw_view, name="withdraw"),
    path("c/<str:token>/files/<int:evidence_id>/", views.file_view, name="file"),
    path("c/<str:token>/files/<int:evidence_id>/thumbnail/", views.thumbnail_view, name="thumbnail"),
    path("<slug:storefront>/", views.request_view, name="request"),
    path("<slug:storefront>/link/", views.link_view, name="link"),
    path("<slug:storefront>/policy/", views.policy_view, name="policy"),
]
