from django.urls import path

app_name = "texting"
urlpatterns: list[object] = []
_ = path
