from django.urls import path

from mobiliza.surveys import views

app_name = "surveys"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("new/", views.create_view, name="create"),
    path("templates/", views.templates_view, name="templates"),
    path("f/<str:token>/", views.public_view, name="public"),
    path("f/<str:token>/thanks/", views.public_thanks_view, name="public_thanks"),
    path("<uuid:survey_id>/", views.builder_view, name="builder"),
    path("<uuid:survey_id>/flow/", views.flow_view, name="flow"),
    path("<uuid:survey_id>/use/", views.use_template_view, name="use_template"),
    path(
        "<uuid:survey_id>/save-as-template/", views.save_as_template_view, name="save_as_template"
    ),
    path("<uuid:survey_id>/archive/", views.archive_view, name="archive"),
    path("<uuid:survey_id>/public/", views.public_toggle_view, name="public_toggle"),
    path("<uuid:survey_id>/preview/", views.preview_view, name="preview"),
    path("<uuid:survey_id>/run/", views.run_view, name="run"),
    path("<uuid:survey_id>/results/", views.results_view, name="results"),
    path("<uuid:survey_id>/results.csv", views.results_csv_view, name="results_csv"),
    path("<uuid:survey_id>/questions/new/", views.question_create_view, name="question_create"),
    path(
        "<uuid:survey_id>/questions/<uuid:question_id>/",
        views.question_edit_view,
        name="question_edit",
    ),
    path(
        "<uuid:survey_id>/questions/<uuid:question_id>/move/",
        views.question_move_view,
        name="question_move",
    ),
    path(
        "<uuid:survey_id>/questions/<uuid:question_id>/remove/",
        views.question_remove_view,
        name="question_remove",
    ),
]
