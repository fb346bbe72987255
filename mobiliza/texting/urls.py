from django.urls import path

from mobiliza.texting import views

app_name = "texting"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("supervision/", views.supervision, name="supervision"),
    path("unmatched/", views.unmatched, name="unmatched"),
    path("unmatched/<uuid:message_id>/resolve/", views.unmatched_resolve, name="unmatched_resolve"),
    path("opt-outs/", views.opt_outs, name="opt_outs"),
    path("join/<str:token>/", views.join, name="join"),
    path("<uuid:textcampaign_id>/", views.campaign_detail, name="detail"),
    path("<uuid:textcampaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<uuid:textcampaign_id>/stats/", views.campaign_stats, name="stats"),
    path("<uuid:textcampaign_id>/qr.svg", views.campaign_qr, name="qr"),
    path("<uuid:textcampaign_id>/status/", views.campaign_status, name="status"),
    path("<uuid:textcampaign_id>/load/", views.campaign_load, name="load"),
    path("<uuid:textcampaign_id>/canned/", views.canned_add, name="canned_add"),
    path("<uuid:textcampaign_id>/assign/", views.campaign_assign, name="assign"),
    path("<uuid:textcampaign_id>/release/", views.campaign_release, name="release"),
    path("<uuid:textcampaign_id>/send/", views.send_page, name="send"),
    path("<uuid:textcampaign_id>/request/", views.request_batch, name="request"),
    path("<uuid:textcampaign_id>/inbox/", views.inbox, name="inbox"),
    path("canned/<uuid:cannedresponse_id>/delete/", views.canned_delete, name="canned_delete"),
    path("conversations/<uuid:conversation_id>/", views.conversation_view, name="conversation"),
    path(
        "conversations/<uuid:conversation_id>/send/",
        views.conversation_send,
        name="conversation_send",
    ),
    path("conversations/<uuid:conversation_id>/answer/", views.conversation_answer, name="answer"),
    path("conversations/<uuid:conversation_id>/tag/", views.conversation_tag, name="tag"),
    path(
        "conversations/<uuid:conversation_id>/opt-out/", views.conversation_opt_out, name="opt_out"
    ),
    path(
        "conversations/<uuid:conversation_id>/escalate/",
        views.conversation_escalate,
        name="escalate",
    ),
    path("conversations/<uuid:conversation_id>/close/", views.conversation_close, name="close"),
]
