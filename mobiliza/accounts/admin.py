from django.contrib import admin

from mobiliza.accounts.models import ApiToken, Invitation, Membership, Organization, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "default_country", "time_zone")
    search_fields = ("name", "slug")


admin.site.register(Membership)
admin.site.register(Invitation)
admin.site.register(ApiToken)
