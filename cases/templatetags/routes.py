"""Django's `{% url %}`, from the pattern reversed once a process (`cases.routes`) when
its arguments are ids and slugs given by position: a page draws ten or more links, and
`reverse` costs 20 to 30 µs each. Anything else (keyword arguments, `as`) is Django's own
tag. A builtin of the Django engine (settings.TEMPLATES), so every template's `url`
is this one.

The app has one instance of its namespace, so the current app Django's tag passes to
`reverse` picks nothing another instance would."""

from django import template
from django.template import defaulttags
from django.utils.html import conditional_escape

from cases.routes import route

register = template.Library()


class RouteNode(defaulttags.URLNode):
    def render(self, context):
        if self.kwargs or self.asvar:
            return super().render(context)
        path = route(self.view_name.resolve(context), *(a.resolve(context) for a in self.args))
        return conditional_escape(path) if context.autoescape else path


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return RouteNode(node.view_name, node.args, node.kwargs, node.asvar)
