-- tidings journal, schema version 1.
-- Times are microseconds since the Unix epoch; states, entries, incidents
-- and links are JSON written by tidings.

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updates     INTEGER NOT NULL,
    closed_at   INTEGER,
    ord         INTEGER NOT NULL
);
CREATE INDEX incidents_open ON incidents (ord) WHERE closed_at IS NULL;

CREATE TABLE publications (
    incident        TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    link            TEXT,
    created_at      INTEGER NOT NULL,
    deadline        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    passes          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident, seq)
);
CREATE INDEX publications_due ON publications (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;

-- A delivery's history (every state it entered) is kept in its own row,
-- one JSON line per change: one write per change, no second table.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    incident    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    entry       TEXT NOT NULL,
    state       TEXT NOT NULL,
    owner       TEXT,                -- the claim's owner while claimed, else NULL
    fence       INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    history     TEXT NOT NULL
);
CREATE INDEX deliveries_incident ON deliveries (incident, id);

CREATE TABLE threads (
    incident    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    root        TEXT NOT NULL,
    latest      TEXT NOT NULL,
    PRIMARY KEY (incident, channel, target)
);
