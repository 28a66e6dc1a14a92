-- tidings journal, schema version 1 (PostgreSQL).
-- Times are microseconds since the Unix epoch; states, entries, incidents
-- and links are JSON written by tidings.

CREATE TABLE tidings_incidents (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updates     BIGINT NOT NULL,
    closed_at   BIGINT,
    ord         BIGSERIAL NOT NULL
);
CREATE INDEX tidings_incidents_open ON tidings_incidents (ord) WHERE closed_at IS NULL;

CREATE TABLE tidings_publications (
    incident        TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    link            TEXT,
    created_at      BIGINT NOT NULL,
    deadline        BIGINT NOT NULL,
    next_attempt_at BIGINT,
    passes          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (incident, seq)
);
CREATE INDEX tidings_publications_due ON tidings_publications (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;

CREATE TABLE tidings_deliveries (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    incident    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    entry       TEXT NOT NULL,
    state       TEXT NOT NULL,
    fence       BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX tidings_deliveries_incident ON tidings_deliveries (incident, id);

CREATE TABLE tidings_transitions (
    id          BIGSERIAL PRIMARY KEY,
    incident    TEXT NOT NULL,
    key         TEXT NOT NULL,
    at          BIGINT NOT NULL,
    state       TEXT NOT NULL
);
CREATE INDEX tidings_transitions_incident ON tidings_transitions (incident, id);

CREATE TABLE tidings_threads (
    incident    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    root        TEXT NOT NULL,
    latest      TEXT NOT NULL,
    PRIMARY KEY (incident, channel, target)
);
