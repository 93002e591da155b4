"""One digest from the published snapshot to files (and on to its channels): what the
`paperradar digest` command and the weekly flow both call.

Files are `<out>/<YYYY-Www>.md` and `.html`, written to a temporary name and renamed, so
a reader never sees half a file; the same snapshot and week always give the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.errors import UserInputError
from core.store import Store
from digest.compose import Digest, compose
from digest.deliver import DeliveryError, Email, Webhook, post_webhook, send_email
from digest.render import file_name, render_html, render_markdown
from digest.sentences import subject
from digest.weeks import Week, default_week, parse_week

FORMATS = ("md", "html")


@dataclass(frozen=True)
class Made:
    """A composed and rendered digest."""

    digest: Digest
    markdown: str
    html: str

    @property
    def subject(self) -> str:
        return subject(self.digest)

    def text(self, fmt: str) -> str:
        return self.markdown if fmt == "md" else self.html


def check_formats(text: str) -> tuple[str, ...]:
    """`md,html` as ('md', 'html'); UserInputError naming the valid ones otherwise."""
    wanted = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise UserInputError(f"unknown --format {', '.join(unknown) or text!r}: use md, html "
                             "or md,html")
    return wanted


def make(store: Store, week: str | Week | None, categories: tuple[str, ...], today: date) -> Made:
    """Compose and render the digest of `week` (a Week, `YYYY-Www`, or None: the last
    complete week in the data) from the snapshot `store`."""
    if isinstance(week, str):
        week = parse_week(week)
    if week is None:
        week = default_week(store, today)
    digest = compose(store, week, categories)
    return Made(digest, render_markdown(digest), render_html(digest))


def write(made: Made, out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the chosen formats under `out` (created if missing); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out / file_name(made.digest.week, fmt)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(made.text(fmt).encode("utf-8"))
        os.replace(tmp, path)
        paths.append(path)
    return paths


def deliver(made: Made, email: Email | None, hook: Webhook | None) -> tuple[list[str], list[DeliveryError]]:
    """Send by every configured channel, each independently: (what was delivered, in words;
    the failures). The caller decides what a failure means (the files stay either way)."""
    done: list[str] = []
    failed: list[DeliveryError] = []
    if email is not None:
        try:
            send_email(email, made.subject, made.markdown, made.html)
            done.append(f"mailed to {len(email.recipients)} recipient(s) via {email.where}")
        except DeliveryError as exc:
            failed.append(exc)
    if hook is not None:
        try:
            post_webhook(hook, made.markdown)
            done.append(f"posted to the webhook at {hook.host}")
        except DeliveryError as exc:
            failed.append(exc)
    return done, failed
