"""Template helpers of the people pages."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from mobiliza.people.panels import Panel

register = template.Library()


@register.simple_tag(takes_context=True)
def render_panel(context: template.Context, panel: Panel) -> SafeString:
    """Render another app's panel with its own context (plus the page's request and user)."""
    request = context.get("request")
    return render_to_string(panel.template_name, dict(panel.context), request=request)
