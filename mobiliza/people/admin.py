"""Django admin for support staff. Edits of personal data belong in the people pages (audited);
the admin is read-mostly and never lists people without paging."""

from django.contrib import admin

from mobiliza.people.models import (
    CustomField,
    Election,
    Household,
    Person,
    PersonPhone,
    Segment,
    Tag,
)


class PersonPhoneInline(admin.TabularInline[PersonPhone, Person]):
    model = PersonPhone
    extra = 0
    fields = ("raw", "e164", "kind", "is_valid", "position")
    readonly_fields = ("e164", "is_valid")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin[Person]):
    list_display = ("__str__", "list", "organization", "email", "city", "support_level")
    list_filter = ("list",)
    search_fields = ("last_name", "first_name", "email", "external_id", "voter_id")
    raw_id_fields = ("organization", "elector", "household")
    readonly_fields = ("public_id", "created_at", "updated_at", "time_zone")
    inlines = [PersonPhoneInline]
    show_full_result_count = False
    list_select_related = ("organization",)


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin[Household]):
    list_display = ("__str__", "organization")
    search_fields = ("address_key", "street")
    raw_id_fields = ("organization",)
    show_full_result_count = False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    list_display = ("name", "organization")
    search_fields = ("name",)


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin[CustomField]):
    list_display = ("label", "key", "type", "organization")


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin[Election]):
    list_display = ("label", "description", "date", "organization")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin[Segment]):
    list_display = ("name", "kind", "list", "organization", "frozen_at")
    list_filter = ("kind", "list")
    readonly_fields = ("frozen_at",)
