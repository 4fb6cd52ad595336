-- Deadlines, their stages and history; the projections the deadline daemon
-- needs to decide them (ARCHITECTURE.md §3; DOMAIN.md §4; Art. 13-16, 20).
--
-- Times: instants are bigint microseconds since the Unix epoch (UTC), the
-- same numbers as the events' *_at_us fields and the daemon's clock. They
-- are compared with the daemon's clock passed as a parameter, never with
-- PostgreSQL's now(): in test mode (ARCHITECTURE.md §5) the whole stack
-- runs on a shifted clock that PostgreSQL does not know about, and a
-- deadline must fall due when that clock says so.

-- A deadline: the truth. Unique per (item, rule, round), created in the
-- transaction that stores the consumer position of the event that started
-- it, so a replay cannot create it twice.
--
-- Its stages are a frozen schedule: schedule_kind[k] fires at
-- schedule_at[k] (k from 1, PostgreSQL arrays), e.g.
--   {remind:14, remind:7, remind:1, due, urge:1, urge:2, escalate}
-- next_step is the step that fires next and next_fire_at its instant (NULL
-- once nothing more fires: escalated, met, cancelled, result reported).
-- Firing advances a row only if it is still at the step the firer read
-- (UPDATE ... WHERE id = $1 AND next_step = $2), which makes every stage
-- fire exactly once whoever fires it (Redis timer, sweep, a replayed claim).
CREATE TABLE deadline (
    id                    uuid        PRIMARY KEY,
    court_id              text        NOT NULL,
    item_id               text        NOT NULL,
    rule_id               text        NOT NULL,
    round                 integer     NOT NULL CHECK (round >= 1),
    registration_number   text        NOT NULL DEFAULT '',
    department_id         text        NOT NULL DEFAULT '',  -- who must act ('' = liaison office)
    supervising_leader_id text        NOT NULL DEFAULT '',  -- escalation target, resolved at escalation
    trigger_date          date        NOT NULL,
    trigger_event_id      text        NOT NULL DEFAULT '',
    due_date              date        NOT NULL,
    due_at_us             bigint      NOT NULL,
    time_zone             text        NOT NULL,
    calendar_version      text        NOT NULL DEFAULT '',
    provisional           boolean     NOT NULL DEFAULT false,
    explanation           text        NOT NULL DEFAULT '',  -- the reasoning, one fact a line
    explanation_pb        bytea,                            -- liaison.v1.DueDateExplanation
    stage                 text        NOT NULL DEFAULT 'pending'
                          CHECK (stage IN ('pending', 'reminded', 'due', 'urged', 'escalated',
                                           'met', 'cancelled')),
    urge_count            integer     NOT NULL DEFAULT 0,
    schedule_kind         text[]      NOT NULL,
    schedule_at           bigint[]    NOT NULL,
    next_step             integer     NOT NULL DEFAULT 1,
    next_fire_at          bigint,
    result_reported       boolean     NOT NULL DEFAULT false, -- Art. 20: no escalation once reported
    created_at_us         bigint      NOT NULL,
    updated_at_us         bigint      NOT NULL,
    met_date              date,
    met_late              boolean,
    closed_by_event_id    text        NOT NULL DEFAULT '',
    cancel_reason         text        NOT NULL DEFAULT '',
    CONSTRAINT deadline_item_rule_round_key UNIQUE (item_id, rule_id, round),
    CONSTRAINT deadline_schedule_shape CHECK (cardinality(schedule_kind) = cardinality(schedule_at)),
    CONSTRAINT deadline_open_fires CHECK (stage NOT IN ('met', 'cancelled') OR next_fire_at IS NULL)
);
-- The sweep and the Redis rebuild read only the rows that still fire.
CREATE INDEX deadline_next_fire ON deadline (next_fire_at) WHERE next_fire_at IS NOT NULL;
CREATE INDEX deadline_court_due ON deadline (court_id, due_at_us);
CREATE INDEX deadline_department ON deadline (court_id, department_id);
COMMENT ON TABLE deadline IS 'one deadline per (item, rule, round): due instant, explanation, stage, frozen stage schedule';

-- Every stage a deadline went through, with when it was meant to fire and
-- when it did: the history a reopened item keeps, the lateness the metrics
-- show, and what the chaos test counts (no unique key on purpose: a stage
-- fired twice would show here as two rows).
CREATE TABLE deadline_history (
    id              bigserial   PRIMARY KEY,
    deadline_id     uuid        NOT NULL REFERENCES deadline (id),
    step            integer     NOT NULL,            -- 0 for created / met / cancelled / recomputed
    kind            text        NOT NULL,            -- created, remind:7, due, urge:1, escalate, met, cancelled, recomputed
    event_id        uuid        NOT NULL,
    scheduled_at_us bigint,
    fired_at_us     bigint      NOT NULL,
    fired_by        text        NOT NULL DEFAULT '', -- redis, sweep, consumer, recompute
    detail          text        NOT NULL DEFAULT ''
);
CREATE INDEX deadline_history_deadline ON deadline_history (deadline_id, id);
COMMENT ON TABLE deadline_history IS 'each stage of each deadline as it happened';

-- ---- projections of other daemons' events -----------------------------------

-- Items as intake registered them, and as routing moved them: what the rules
-- need (kind, session closing date, deputies to answer, the lead department).
CREATE TABLE item (
    item_id             text        PRIMARY KEY,
    court_id            text        NOT NULL,
    registration_number text        NOT NULL DEFAULT '',
    kind                text        NOT NULL,
    court_role          text        NOT NULL DEFAULT '',       -- lead | co (session items, Art. 14)
    received_date       date,
    closing_date        date,                                   -- 闭会日期 (Art. 14)
    deputies            integer     NOT NULL DEFAULT 1,
    round               integer     NOT NULL DEFAULT 1,
    lead_department_id  text        NOT NULL DEFAULT '',
    state               text        NOT NULL DEFAULT 'registered',
    registered_event_id text        NOT NULL DEFAULT ''
);

-- Deputies answered per item and round (each deputy of a joint item
-- separately, Art. 14): an answer deadline is met when all are answered.
CREATE TABLE item_reply (
    item_id   text    NOT NULL,
    round     integer NOT NULL,
    deputy_id text    NOT NULL,
    PRIMARY KEY (item_id, round, deputy_id)
);

-- The directory, as far as recipients are resolved from it: each department
-- with its head and supervising court leader (分管院领导, Art. 7, 20), the
-- staff they name, and the courts' time zones.
CREATE TABLE court (
    court_id  text    PRIMARY KEY,
    revision  bigint  NOT NULL,
    name      text    NOT NULL DEFAULT '',
    time_zone text    NOT NULL DEFAULT 'Asia/Shanghai'
);
CREATE TABLE department (
    department_id        text    PRIMARY KEY,
    court_id             text    NOT NULL,
    revision             bigint  NOT NULL,
    name                 text    NOT NULL DEFAULT '',
    kind                 text    NOT NULL DEFAULT '',
    head_staff_id        text    NOT NULL DEFAULT '',
    supervising_staff_id text    NOT NULL DEFAULT '',
    active               boolean NOT NULL DEFAULT true
);
CREATE INDEX department_court_kind ON department (court_id, kind);
CREATE TABLE staff (
    staff_id      text    PRIMARY KEY,
    court_id      text    NOT NULL,
    revision      bigint  NOT NULL,
    name          text    NOT NULL DEFAULT '',
    department_id text    NOT NULL DEFAULT '',
    mobile        text    NOT NULL DEFAULT '',  -- personal data, never logged
    email         text    NOT NULL DEFAULT '',
    active        boolean NOT NULL DEFAULT true
);
