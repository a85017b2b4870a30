from django import template

from cases.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str):
    """Render user Markdown to sanitised HTML."""
    return render_markdown(text)
