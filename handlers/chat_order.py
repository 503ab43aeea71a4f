"""One chat's deliveries one after another across serve processes (PostgreSQL).

Within a process the group commit (handlers/pipeline.py) runs a chat's deliveries in arrival order.
Behind a load balancer two deliveries of one chat may reach two processes: process A takes update 10
and process B update 11. Each group's transaction therefore starts by taking a transaction-level
advisory lock per chat in it (``pg_advisory_xact_lock``, in key order so two groups never wait for
each other in a circle). B's group waits at that statement until A's commits, then reads the
conversation A wrote: one chat's steps never overlap and each sees the one before it.

The guarantee: a chat's deliveries are handled one at a time, in the order they reach the database,
on any number of processes; none is lost or handled twice (ProcessedUpdate). What arrives later is
handled later. A platform that sends an older delivery after a newer one (a Telegram retry of an
update whose process died before answering, while the chat's next update went elsewhere) still has
it handled — never dropped — and, for Telegram, whose ``update_id`` only grows, it is recognised
here: ``chat_sequences`` keeps each chat's newest handled id, and an older one is logged (ids only)
and counted as ``late`` in the metrics. Telegram itself sends a chat's next update only after the
previous webhook call was answered, and the web chat's page sends a message only after the previous
one was answered, so neither reorders in normal running. On SQLite there is one process and nothing
here runs.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text

log = logging.getLogger(__name__)

# Channels whose delivery ids grow with time, per bot: an older id arriving after a newer one is late.
ORDERED_CHANNELS = frozenset({"telegram"})


def chat_lock_key(channel: str, chat_id: str) -> int:
    """A stable signed 64-bit key per chat (a collision only serialises two chats a little)."""
    digest = hashlib.blake2b(f"chat:{channel}:{chat_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_chats(session, channel: str, chat_ids) -> None:
    """Wait until no other transaction handles any of these chats; held until this one ends."""
    keys = sorted({chat_lock_key(channel, chat) for chat in chat_ids})
    # The subquery orders the keys, so the locks are taken in that order.
    await session.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM "
                               "(SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"),
                          {"keys": keys})


async def late_deliveries(session, channel: str, deliveries: list[tuple[str, str]]) -> set[str]:
    """Of ``deliveries`` (chat id, update key), the keys older than their chat's newest handled one;
    records the newest of each chat. Call with the chats locked."""
    if channel not in ORDERED_CHANNELS:
        return set()
    sequences = [(chat, key, int(key)) for chat, key in deliveries if key.isascii() and key.isdigit()]
    if not sequences:
        return set()
    chats = sorted({chat for chat, _, _ in sequences})
    rows = await session.execute(text("SELECT chat_id, last_sequence FROM chat_sequences "
                                      "WHERE channel = :channel AND chat_id = ANY(CAST(:chats AS varchar[]))"),
                                 {"channel": channel, "chats": chats})
    newest = dict(rows.all())
    late = set()
    for chat, key, number in sequences:
        if chat in newest and number < newest[chat]:
            late.add(key)
            log.warning("handled a delivery after a newer one of its chat channel=%s update=%s newest=%s",
                        channel, key, newest[chat])
        newest[chat] = max(number, newest.get(chat, number))
    await session.execute(text(
        "INSERT INTO chat_sequences (channel, chat_id, last_sequence, updated_at) "
        "SELECT :channel, c, s, now() FROM unnest(CAST(:chats AS varchar[]), CAST(:numbers AS bigint[])) AS t(c, s) "
        "ON CONFLICT (channel, chat_id) DO UPDATE SET "
        "last_sequence = GREATEST(chat_sequences.last_sequence, EXCLUDED.last_sequence), updated_at = now()"),
        {"channel": channel, "chats": chats, "numbers": [newest[chat] for chat in chats]})
    return late
