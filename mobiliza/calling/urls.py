from django.urls import path

from mobiliza.calling import views

app_name = "calling"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("new/", views.create, name="create"),
    path("statuses/", views.statuses, name="statuses"),
    path("join/<str:token>/", views.join, name="join"),
    path("<uuid:calloperation_id>/", views.detail, name="detail"),
    path("<uuid:calloperation_id>/call/", views.call, name="call"),
    path("<uuid:calloperation_id>/share/", views.share, name="share"),
    path("<uuid:calloperation_id>/export/", views.export, name="export"),
    *[
        path(f"<uuid:calloperation_id>/{verb}/", views.action, {"verb": verb}, name=verb)
        for verb in ("pause", "resume", "archive", "duplicate")
    ],
    *[
        path(f"<uuid:calloperation_id>/edit/{n}/", views.wizard, {"step": n}, name=f"wizard_{n}")
        for n in range(1, 12)
    ],
    path("targets/<uuid:calltarget_id>/restore/", views.target_restore, name="target_restore"),
]
