-- The bus tables (ARCHITECTURE.md §2), created in every service's own schema.
--
-- Names are unqualified on purpose: liaisonctl migrate applies each file of
-- deploy/sql/_bus with search_path set to the service's schema, so every
-- daemon gets its own outbox, stream heads, consumer positions and dead
-- letters, owned by its own role. A daemon that publishes uses bus_outbox
-- and bus_stream_head; a daemon that consumes uses bus_consumer_position and
-- bus_dead_letter; the same four tables serve both.
--
-- Retention and archiving: see README.md in this directory.

-- The outbox: one row per event, written in the producer's own transaction
-- together with the state change it announces (nothing uncommitted is ever
-- visible; nothing committed is lost).
--
-- `id` only orders rows for the sequencer; it is never a position. A
-- bigserial is allocated at insert time, before commit, so a transaction
-- that took id 7 can commit after the one that took id 8: a reader that
-- followed `id > last` would skip 7 for ever. `seq` is the position: NULL
-- until the stream's one sequencer gives it, after commit, from the head
-- row below, in the same transaction that advances the head, so positions
-- are gapless and belong only to committed events.
CREATE TABLE IF NOT EXISTS bus_outbox (
    id            bigserial   PRIMARY KEY,
    stream        text        NOT NULL CHECK (stream <> ''),
    seq           bigint      CHECK (seq > 0),
    event_id      uuid        NOT NULL,
    type          text        NOT NULL CHECK (type <> ''),
    -- The packed liaison.v1.Envelope with sequence 0 (not encoded); the pull
    -- server appends the sequence field when it sends the event.
    envelope      bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sequenced_at  timestamptz,
    CONSTRAINT bus_outbox_event_id_key UNIQUE (event_id),
    CONSTRAINT bus_outbox_stream_seq_key UNIQUE (stream, seq),
    CONSTRAINT bus_outbox_seq_sequenced CHECK ((seq IS NULL) = (sequenced_at IS NULL))
);
-- What the sequencer reads: the committed rows still without a position,
-- in id order. Partial, so it only holds the few rows in flight.
CREATE INDEX IF NOT EXISTS bus_outbox_unsequenced ON bus_outbox (stream, id) WHERE seq IS NULL;
COMMENT ON TABLE bus_outbox IS 'events published by this service; seq is the gapless stream position given by the sequencer after commit';

-- One row per stream: the last position given. Updated in the same
-- transaction as the rows it sequences; its row lock (and the sequencer's
-- REPEATABLE READ) makes a second sequencer fail rather than double-assign.
CREATE TABLE IF NOT EXISTS bus_stream_head (
    stream        text        PRIMARY KEY CHECK (stream <> ''),
    head          bigint      NOT NULL DEFAULT 0 CHECK (head >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bus_stream_head IS 'last sequenced position of each stream this service publishes';

-- Where a consumer is in a producer's stream. Updated in the transaction
-- that applies the events (exactly-once effects); locked FOR UPDATE at the
-- start of that transaction, which fences a second instance of the consumer.
CREATE TABLE IF NOT EXISTS bus_consumer_position (
    consumer      text        NOT NULL CHECK (consumer <> ''),
    stream        text        NOT NULL CHECK (stream <> ''),
    position      bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    -- The producer's head as last seen, for lag without a cross-schema read.
    head_seen     bigint      NOT NULL DEFAULT 0,
    applied       bigint      NOT NULL DEFAULT 0,
    dead_lettered bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);
COMMENT ON TABLE bus_consumer_position IS 'each consumer''s last applied position per stream, written with the effects';

-- Poison events: undecodable, of an unknown type, or refused by the
-- consumer's validation. Parked with the reason in the transaction that
-- moves the position past them, so one bad event cannot stall a stream.
-- An operator asks for a replay (status 'replay'); the consumer daemon
-- re-applies it and marks it 'replayed' or parks it again with the reason.
CREATE TABLE IF NOT EXISTS bus_dead_letter (
    id            bigserial   PRIMARY KEY,
    consumer      text        NOT NULL,
    stream        text        NOT NULL,
    seq           bigint      NOT NULL,
    event_id      text        NOT NULL DEFAULT '',
    type          text        NOT NULL DEFAULT '',
    reason        text        NOT NULL,
    envelope      bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'parked'
                              CHECK (status IN ('parked', 'replay', 'replayed')),
    attempts      integer     NOT NULL DEFAULT 0,
    parked_at     timestamptz NOT NULL DEFAULT now(),
    replayed_at   timestamptz,
    CONSTRAINT bus_dead_letter_event_key UNIQUE (consumer, stream, seq)
);
CREATE INDEX IF NOT EXISTS bus_dead_letter_replay ON bus_dead_letter (consumer, id) WHERE status = 'replay';
COMMENT ON TABLE bus_dead_letter IS 'poison events parked by this service''s consumers, with the reason';
