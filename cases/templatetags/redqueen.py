from django import template

from cases.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str):
    """Render user Markdown to sanitised HTML."""
    return render_markdown(text)


@register.filter
def timeleft(seconds: int) -> str:
    """Seconds as "12 min 05 s" (or "1 h 02 min")."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"
