from django.urls import path

from mobiliza.people.imports import views

# Included under /people/imports/ in the `people` namespace.
urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("new/", views.import_new, name="import_new"),
    path("voting-history/new/", views.import_new_votes, name="import_new_votes"),
    path("<uuid:importjob_id>/", views.import_detail, name="import_detail"),
    path("<uuid:importjob_id>/progress/", views.import_progress, name="import_progress"),
    path("<uuid:importjob_id>/preset/", views.import_apply_preset, name="import_apply_preset"),
    path("<uuid:importjob_id>/run/", views.import_run_for_real, name="import_run_for_real"),
    path("<uuid:importjob_id>/errors.csv", views.import_errors, name="import_errors"),
    path(
        "presets/<uuid:mappingpreset_id>/delete/",
        views.preset_delete,
        name="import_preset_delete",
    ),
]
