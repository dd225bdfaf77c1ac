"""The audit log's hash chain: appending links and verifying them (R5).

Each clinic's events form one chain. An event's ``hash`` is the SHA-256 of its
own content together with ``prev_hash``, the hash of the event before it, so
changing, removing, inserting or reordering any row breaks every link after
it. ``audit_chain_heads`` keeps the last link of each chain; it also reveals
events cut from the end.

Links are added when the session commits, after everything else has been
flushed: the head row is the last lock a transaction takes, which serialises
writers of one clinic without risking a deadlock with other row locks (the
receipt counter, for instance). On PostgreSQL a trigger refuses UPDATE and
DELETE on ``audit_events`` (migration 0004).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select, text
from sqlalchemy.orm import Session

from app.models import AuditChainHead, AuditEvent
from app.models.types import utcnow

GENESIS = "0" * 64
PENDING = "audit_pending"  # key in Session.info: events waiting for the commit
VIEW_ONLY = "audit_view_only"  # key in Session.info: a read view's commit (audit.commit_view)
WROTE = "stillpoint_wrote"  # key in Connection.info: its transaction has sent a write
NO_WAIT = "stillpoint_no_flush_wait"  # key in Connection.info: a view's link turned the wait off


def chain_of(clinic_id: int | None) -> int:
    """The chain an event belongs to: its clinic's, or 0 for events of no clinic."""
    return clinic_id or 0


def normalise(details: dict[str, Any]) -> dict[str, Any]:
    """Details exactly as they will read back from the JSON column."""
    return json.loads(json.dumps(details, default=str))


def _stamp(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds") if value else ""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _payload_around_link(event: Any) -> tuple[str, str]:
    """The hashed payload of ``event`` without its place: (before seq, after prev_hash).

    The payload is a JSON list, whose items are written one after the other with a
    comma between them, so ``before + str(seq) + "," + '"' + prev_hash + '"' + after``
    is exactly the payload ``content_hash`` hashes (seq is an integer, prev_hash hex).
    """
    before = _dumps(["stillpoint-audit-v1", chain_of(event.clinic_id)])[:-1] + ","
    after = "," + _dumps([
        _stamp(event.created_at), event.actor_id, event.action, event.subject_type,
        event.subject_id, event.patient_id, event.ip, event.details or {},
    ])[1:]  # fmt: skip
    return before, after


def content_hash(event: Any) -> str:
    """The hash of an event's content and of the link before it.

    ``event`` is an ``AuditEvent`` or a row with the same column names.
    """
    before, after = _payload_around_link(event)
    payload = f'{before}{event.seq},"{event.prev_hash}"{after}'
    return hashlib.sha256(payload.encode()).hexdigest()


def queue(session: Session, audit_event: AuditEvent) -> None:
    """Hold ``audit_event`` until the session commits (see ``_link_pending``)."""
    session.info.setdefault(PENDING, []).append(audit_event)


# Built once: a text() construct made per call is parsed and cache-keyed again each time
# (every audited page view links an event).
_BUMP = text("UPDATE audit_chain_heads SET seq = seq + :n WHERE chain_id = :c RETURNING seq, hash")
_START = text(
    "INSERT INTO audit_chain_heads (chain_id, seq, hash) VALUES (:c, 0, :g) "
    "ON CONFLICT (chain_id) DO NOTHING"
)
_INSERT = insert(AuditEvent.__table__)


def _claim(session: Session, chain_id: int, count: int) -> tuple[int, str]:
    """Lock the head of a chain, reserve ``count`` places; return (first seq, prev hash)."""
    conn = session.connection()
    row = conn.execute(_BUMP, {"n": count, "c": chain_id}).first()
    if row is None:
        conn.execute(_START, {"c": chain_id, "g": GENESIS})
        row = conn.execute(_BUMP, {"n": count, "c": chain_id}).one()
    return row.seq - count + 1, row.hash


# Every column but the id: ``audit.record`` sets each of them (and ``link`` the chain's).
_EVENT_COLUMNS = [column.key for column in AuditEvent.__table__.columns if column.key != "id"]
_CONTENT_COLUMNS = [key for key in _EVENT_COLUMNS if key not in ("seq", "prev_hash", "hash")]


# PostgreSQL: one event linked in one statement. The head moves in a CTE and the event
# takes its place and hashes from it; the database computes the same SHA-256 that
# content_hash does, from the payload around the link (_payload_around_link). The head
# then takes the event's hash from the trigger of migration 0009. No row comes back
# when the chain has no head yet: ``link`` then takes the general way, which starts it.
# Sent as the driver's own SQL (psycopg's placeholders): every audited request runs it,
# and a SQLAlchemy construct (compiled, its parameters processed) cost 2 % of a chart view.
_LINK_HEAD = (
    "WITH head AS (UPDATE audit_chain_heads SET seq = seq + 1 WHERE chain_id = %(chain)s"
    " RETURNING seq, hash)"
)
_LINK_INSERT = (
    " INSERT INTO audit_events (clinic_id, actor_id, action, subject_type, subject_id,"
    " patient_id, ip, created_at, details, seq, prev_hash, hash)"
    " SELECT %(clinic_id)s::integer, %(actor_id)s::integer, %(action)s::text,"
    " %(subject_type)s::text, %(subject_id)s::integer, %(patient_id)s::integer,"
    " %(ip)s::text, %(created_at)s::timestamptz, %(details)s::json,"
    " head.seq, head.hash, encode(sha256(convert_to("
    "%(before)s::text || head.seq || ',\"' || head.hash || '\"' || %(after)s::text,"
    " 'UTF8')), 'hex') FROM head"
)
_LINK_RETURNING = " RETURNING seq, prev_hash, hash"
# A transaction whose only write is this entry (VIEW_ONLY) commits without waiting for
# the WAL flush: ``set_config(..., true)`` is SET LOCAL, in the same statement.
_NO_FLUSH_WAIT = ", no_wait AS (SELECT set_config('synchronous_commit', 'off', true))"
_LINK_ONE_PG = {
    False: "".join((_LINK_HEAD, _LINK_INSERT, _LINK_RETURNING)),
    True: "".join((_LINK_HEAD, _NO_FLUSH_WAIT, _LINK_INSERT, ", no_wait", _LINK_RETURNING)),
}


def _link_one_pg(session: Session, audit_event: AuditEvent, view_only: bool) -> bool:
    before, after = _payload_around_link(audit_event)
    params = {key: getattr(audit_event, key) for key in _CONTENT_COLUMNS}
    params["details"] = json.dumps(params["details"])
    params.update(chain=chain_of(audit_event.clinic_id), before=before, after=after)
    conn = session.connection()
    row = conn.exec_driver_sql(_LINK_ONE_PG[view_only], params).first()
    if row is None:
        return False
    if view_only:  # from here on, a write makes the commit wait again (``_commits``)
        conn.info[WROTE], conn.info[NO_WAIT] = False, True
    audit_event.seq, audit_event.prev_hash, audit_event.hash = row
    return True


_READS = ("SELECT", "SHOW")


def _begins(conn: Connection) -> None:
    conn.info[WROTE] = conn.info[NO_WAIT] = False


def _sends(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Note a transaction's first write: any statement but a SELECT or SHOW. A read in a
    CTE counts as a write, which only ever costs a flush; a SELECT of a function that
    writes (``nextval``, say) would count as a read: the app sends none in a view."""
    if not conn.info.get(WROTE, True) and not statement.lstrip()[:6].upper().startswith(_READS):
        conn.info[WROTE] = True


def _commits(conn: Connection) -> None:
    """A write sent after a view's link (a later ``before_commit`` listener's) makes the
    commit wait for its flush after all."""
    if conn.info.get(NO_WAIT) and conn.info.get(WROTE):
        conn.connection.dbapi_connection.execute("SET LOCAL synchronous_commit TO DEFAULT")
    conn.info[NO_WAIT] = False


event.listen(Engine, "begin", _begins)
event.listen(Engine, "before_cursor_execute", _sends)
event.listen(Engine, "commit", _commits)


def _only_reads_so_far(session: Session) -> bool:
    """The session's transaction has written nothing yet: whatever it read, and however it
    wrote (the ORM, SQL, a trigger's statement), every write it sends passes ``_sends``."""
    return session.connection().info.get(WROTE) is False


def link(session: Session, events: list[AuditEvent]) -> None:
    """Give each event its place and hashes, and insert them in the session's transaction.

    A plain INSERT, not ``session.add``: the unit of work's flush of one event cost
    several times the INSERT itself, on every audited page view (docs/performance.md).
    The event objects stay transient; read events back from the table.
    """
    for audit_event in events:
        audit_event.created_at = audit_event.created_at or utcnow()
        audit_event.details = normalise(audit_event.details or {})
    one_pg = len(events) == 1 and session.get_bind().dialect.name == "postgresql"
    view_only = bool(session.info.get(VIEW_ONLY)) and _only_reads_so_far(session)
    if one_pg and _link_one_pg(session, events[0], view_only):
        return
    by_chain: dict[int, list[AuditEvent]] = {}
    for audit_event in events:
        by_chain.setdefault(chain_of(audit_event.clinic_id), []).append(audit_event)
    for chain_id in sorted(by_chain):
        chain = by_chain[chain_id]
        seq, prev = _claim(session, chain_id, len(chain))
        for audit_event in chain:
            audit_event.seq, audit_event.prev_hash = seq, prev
            audit_event.hash = prev = content_hash(audit_event)
            seq += 1
        # The head takes the last event's hash in the INSERT itself: a trigger (migration
        # 0009), one statement fewer on every audited request.
        rows = [{key: getattr(e, key) for key in _EVENT_COLUMNS} for e in chain]
        # One row is sent as one row: a list, even of one, takes the executemany path.
        session.connection().execute(_INSERT, rows[0] if len(rows) == 1 else rows)


def _link_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        session.flush()  # everything else first: the head lock is taken last
        link(session, pending)


def _drop_pending(session: Session, transaction: Any) -> None:
    """A transaction that ends without committing takes its events with it; and a view's
    mark (``VIEW_ONLY``) never outlives its transaction."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(VIEW_ONLY, None)


event.listen(Session, "before_commit", _link_pending)
event.listen(Session, "after_transaction_end", _drop_pending)


# -- verification ------------------------------------------------------------


@dataclass
class ChainReport:
    """The result of walking one chain."""

    chain_id: int
    events: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    first_bad_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, event_id: int | None, message: str) -> None:
        if self.first_bad_id is None and event_id is not None:
            self.first_bad_id = event_id
        self.problems.append(message)


def _walk(report: ChainReport, events: Iterable[Any]) -> None:
    expected_seq, expected_prev, last_id, prev_id = 1, GENESIS, 0, 0
    for ev in events:
        report.events += 1
        where = f"event #{ev.id} (link {ev.seq})"
        before = f"event #{prev_id}" if prev_id else "the start of the chain"
        if ev.seq > expected_seq:
            report.fail(ev.id, f"{where}: links {expected_seq}–{ev.seq - 1} are missing (removed)")
        elif ev.seq < expected_seq:
            report.fail(ev.id, f"{where}: link {ev.seq} appears twice (inserted)")
        if ev.prev_hash != expected_prev:
            report.fail(ev.id, f"{where}: does not follow {before} (inserted or reordered)")
        if content_hash(ev) != ev.hash:
            report.fail(ev.id, f"{where}: its content was changed after it was written")
        if ev.id <= last_id:
            report.fail(ev.id, f"{where}: stored out of order (reordered)")
        expected_seq, expected_prev = ev.seq + 1, ev.hash
        last_id, prev_id = max(last_id, ev.id), ev.id
        if len(report.problems) >= 20:
            return
    if report.ok and (report.head_seq, report.head_hash) != (expected_seq - 1, expected_prev):
        report.fail(
            None,
            f"the chain ends at link {expected_seq - 1} but its head records link "
            f"{report.head_seq}: events were removed from or added at the end",
        )


_COLUMNS = [
    AuditEvent.id, AuditEvent.clinic_id, AuditEvent.seq, AuditEvent.prev_hash,
    AuditEvent.hash, AuditEvent.created_at, AuditEvent.actor_id, AuditEvent.action,
    AuditEvent.subject_type, AuditEvent.subject_id, AuditEvent.patient_id,
    AuditEvent.ip, AuditEvent.details,
]  # fmt: skip


def _in_chain(chain_id: int) -> Any:
    column = AuditEvent.clinic_id
    return column.is_(None) if chain_id == 0 else column == chain_id


def _events(session: Session, chain_id: int, batch: int = 5000) -> Iterator[Any]:
    """A chain's events in order as plain rows, read in keyset batches.

    Rows, not ORM objects: nothing piles up in the identity map, so memory
    stays flat however long the chain is.
    """
    after: tuple[int, int] | None = None
    while True:
        stmt = select(*_COLUMNS).where(_in_chain(chain_id))
        if after is not None:
            stmt = stmt.where(
                (AuditEvent.seq > after[0])
                | ((AuditEvent.seq == after[0]) & (AuditEvent.id > after[1]))
            )
        rows = session.execute(stmt.order_by(AuditEvent.seq, AuditEvent.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = (rows[-1].seq, rows[-1].id)


def verify(session: Session, chain_id: int) -> ChainReport:
    """Walk one chain from its first link and report what does not hold."""
    head = session.get(AuditChainHead, chain_id)
    report = ChainReport(chain_id)
    if head is not None:
        report.head_seq, report.head_hash = head.seq, head.hash
    _walk(report, _events(session, chain_id))
    return report


def chains(session: Session) -> list[int]:
    """Every chain that has a head or an event."""
    heads = set(session.scalars(select(AuditChainHead.chain_id)))
    clinics = {chain_of(c) for c in session.scalars(select(AuditEvent.clinic_id).distinct())}
    return sorted(heads | clinics)


def tail_intact(session: Session, chain_id: int) -> bool:
    """A constant-time check: the last event matches the head (for every page view)."""
    head = session.get(AuditChainHead, chain_id)
    last = session.execute(
        select(*_COLUMNS).where(_in_chain(chain_id)).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if head is None or last is None:
        return head is None and last is None
    return last.seq == head.seq and last.hash == head.hash == content_hash(last)
