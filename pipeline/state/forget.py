"""`digest subscribers forget EMAIL`: erase a reader's data everywhere (GDPR art. 17), keeping
only what is needed never to mail them again.

Erased: their address and name, their history (subscriber events, with the bounce and
complaint details that quote the address), their clicks (the ref in `per_reader`; in
`aggregate` the hashes made with every click key still held), the error text of their ledger
rows. Kept: one row holding the ref (a digest of the address, not the address) with the status
`unsubscribed`, so an import of an old list or a restored backup never mails them again
(their address is on no row, so only someone who already knows it can match it), one
event saying they left, and the ledger rows themselves (which issue went to that row, no
address: they keep the counts of what was sent, which the archive's delivery records check).
Not reached: backups taken before, and messages already in the Maildir outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..models import Subscriber
from ..tokens import reader_ref
from ..tracking import delivery_hash
from ..weeks import utcnow
from . import clicks, events
from .db import Database
from .statuses import SubscriberStatus
from .subscribers import normalize_email

FORGOTTEN_DOMAIN = "forgotten.invalid"  # RFC 2606: never a deliverable address


def is_forgotten(subscriber: Subscriber) -> bool:
    return subscriber.email.endswith("@" + FORGOTTEN_DOMAIN)


@dataclass(frozen=True)
class Forgotten:
    address: str
    events: int
    clicks: int
    deliveries: int  # ledger rows now without error text

    def lines(self) -> list[str]:
        return [f"forgot {self.address}:",
                "  address and name erased from the subscriber list",
                f"  {self.events} subscriber event(s) deleted",
                f"  {self.clicks} click(s) deleted",
                f"  {self.deliveries} delivery row(s) kept without their error text",
                "  kept: the address's digest (ref) as unsubscribed, so no import or restored"
                " backup mails them again",
                "  not reached: backups made before now, messages already in the outbox"]


def forget(db: Database, address: str) -> Forgotten:
    email = normalize_email(address)
    ref = reader_ref(email)
    with db.atomic():
        row = db.execute("SELECT id, status FROM subscribers WHERE ref = ?", (ref,)).fetchone()
        if row is None or row["status"] is None:
            raise UsageError(f"{email}: no such subscriber",
                             hint="see `digest subscribers list`")
        hashes = [delivery_hash(key, week, ref) for week, key in clicks.click_keys(db).items()]
        click_count = clicks.forget(db, [ref, *hashes])
        event_count = db.execute("DELETE FROM subscriber_events WHERE ref = ?",
                                 (ref,)).rowcount
        delivery_count = db.execute("UPDATE deliveries SET last_error = NULL"
                                    " WHERE subscriber_id = ?", (row["id"],)).rowcount
        now = utcnow()
        db.execute("UPDATE subscribers SET email = ?, name = NULL, source = 'forgotten',"
                   " created_at = ?, updated_at = ?, confirmed_at = NULL, unsubscribed_at = ?"
                   " WHERE id = ?",
                   (f"forgotten-{row['id']}@{FORGOTTEN_DOMAIN}", now, now, now, row["id"]))
        # The address changed, its ref must not (migration 4's trigger clears a ref whose
        # address changed): write it back.
        db.execute("UPDATE subscribers SET ref = ? WHERE id = ?", (ref, row["id"]))
        if row["status"] not in events.STOPPED:
            db.execute("UPDATE subscribers SET status = ? WHERE id = ?",
                       (SubscriberStatus.UNSUBSCRIBED.value, row["id"]))
            events.changed(db, ref, row["status"], SubscriberStatus.UNSUBSCRIBED.value,
                           source="forget", detail="digest subscribers forget")
    return Forgotten(email, event_count, click_count, delivery_count)
