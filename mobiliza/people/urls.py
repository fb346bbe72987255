from django.urls import include, path

from mobiliza.people import views

app_name = "people"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("builder/", views.builder_view, name="builder"),
    path("count/", views.count_view, name="count"),
    path("new/", views.person_create, name="create"),
    path("duplicates/", views.duplicates_view, name="duplicates"),
    path("fields/", views.custom_fields_view, name="custom_fields"),
    path("segments/", views.segments_view, name="segments"),
    path("segments/new/", views.segment_save, name="segment_save"),
    path("segments/<uuid:segment_id>/", views.segment_detail, name="segment_detail"),
    path("segments/<uuid:segment_id>/count/", views.segment_count, name="segment_count"),
    path("segments/<uuid:segment_id>/update/", views.segment_update, name="segment_update"),
    path("segments/<uuid:segment_id>/freeze/", views.segment_freeze, name="segment_freeze"),
    path("segments/<uuid:segment_id>/delete/", views.segment_delete, name="segment_delete"),
    path("segments/<uuid:segment_id>/export.csv", views.segment_export, name="segment_export"),
    path("<uuid:person_id>/", views.person_detail, name="detail"),
    path("<uuid:person_id>/edit/", views.person_edit, name="edit"),
    path("<uuid:person_id>/phones/add/", views.phone_add, name="phone_add"),
    path("<uuid:person_id>/phones/remove/", views.phone_remove, name="phone_remove"),
    path("<uuid:person_id>/tags/add/", views.tag_add, name="tag_add"),
    path("<uuid:person_id>/tags/remove/", views.tag_remove, name="tag_remove"),
    path("<uuid:person_id>/elector/", views.link_elector, name="link_elector"),
    path("<uuid:person_id>/merge/", views.merge_view, name="merge"),
    path("imports/", include("mobiliza.people.imports.urls")),
]
