"""The weekly digest: one ISO week of the published database in Markdown and HTML, and its delivery.

compose (numbers from the views) -> render (Markdown, HTML with inline SVG) -> build
(files, atomically) -> deliver (SMTP, webhook). Plain Python: `paperradar digest` and the
`weekly-digest` flow (flows/digest.py) call it; no Prefect or Streamlit here. (The
function `compose` is not re-exported: it would hide the module `digest.compose`.)
"""

from digest.build import FORMATS, Made, check_formats, deliver, make, write
from digest.compose import Digest
from digest.deliver import DeliveryError, Email, Webhook, channels, post_webhook, send_email
from digest.render import render_html, render_markdown
from digest.weeks import Week, default_week, parse_week

__all__ = [
    "FORMATS", "DeliveryError", "Digest", "Email", "Made", "Webhook", "Week", "channels",
    "check_formats", "default_week", "deliver", "make", "parse_week", "post_webhook",
    "render_html", "render_markdown", "send_email", "write",
]
