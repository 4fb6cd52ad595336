-- Each item's workflow (Arts. 14-21; DOMAIN.md §3): the items projected
-- from intake's ItemRegistered, the directory facts routing needs (who is
-- the president, each department's supervising leader, deputies' sectors),
-- the handling plan and its assignments, replies and their recipients,
-- evaluations, the item's whole history, the idempotency record of the
-- commands, and the per-court rules (approvers, suggested departments,
-- reply categories).
--
-- Row-level security by court, as in intake: every transaction of the
-- daemon starts with set_config('liaison.court', <court>, true) ('*' for
-- the consumer, which projects events of every court). The tables are
-- owned by liaison_routing, so FORCE ROW LEVEL SECURITY binds the owner
-- too; a connection that forgot the court sees nothing.

CREATE FUNCTION court_visible(court text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT current_setting('liaison.court', true) IN (court, '*') $$;
COMMENT ON FUNCTION court_visible(text) IS 'row-level security: the court set by the transaction, or * for all';

-- ---- the directory, as projected from intake's events ----------------------
-- Upserts carry the whole record and a revision; a lower revision is
-- ignored (directory.proto). Ids are intake's, opaque here.

CREATE TABLE dir_court (
    court_id            text        PRIMARY KEY,
    name                text        NOT NULL DEFAULT '',
    time_zone           text        NOT NULL DEFAULT 'Asia/Shanghai',
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 0
);

CREATE TABLE dir_department (
    court_id            text        NOT NULL,
    department_id       text        NOT NULL,
    name                text        NOT NULL DEFAULT '',
    kind                text        NOT NULL DEFAULT 'division',
    head_staff_id       text        NOT NULL DEFAULT '',
    -- 分管院领导: approves the department's replies (Art. 14)
    supervising_staff_id text       NOT NULL DEFAULT '',
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (court_id, department_id)
);

CREATE TABLE dir_staff (
    court_id            text        NOT NULL,
    staff_id            text        NOT NULL,
    name                text        NOT NULL DEFAULT '',
    department_id       text        NOT NULL DEFAULT '',
    -- 'president', 'court-leader', 'liaison-office', ... (StaffRole)
    roles               text[]      NOT NULL DEFAULT '{}',
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (court_id, staff_id)
);

CREATE TABLE dir_deputy (
    court_id            text        NOT NULL,
    deputy_id           text        NOT NULL,
    name                text        NOT NULL DEFAULT '',
    sector              text        NOT NULL DEFAULT '',  -- 界别/行业 (Art. 8(9))
    revision            bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (court_id, deputy_id)
);

-- ---- per-court rules --------------------------------------------------------

-- Who approves the handling plan (Arts. 14, 15, 8(5)). Without a row the
-- regulation's default holds: session items and deputy letters → the
-- president, other items → a court leader (the supervising leader of the
-- proposed lead department). A row may name a kind's approver kind and a
-- fixed staff member.
CREATE TABLE approver_rule (
    court_id            text        NOT NULL,
    domain_kind         text        NOT NULL,
    approver            text        NOT NULL CHECK (approver IN ('president', 'court-leader')),
    approver_staff_id   text        NOT NULL DEFAULT '',
    PRIMARY KEY (court_id, domain_kind)
);

-- Suggested departments for the handling opinion (拟办意见). A rule matches
-- an item when every condition it sets holds: the kind, a keyword in the
-- title or content, the sector of one of its deputies. The best rules
-- (highest priority, then most conditions) suggest the departments.
CREATE TABLE suggestion_rule (
    court_id            text        NOT NULL,
    rule_id             bigserial,
    domain_kind         text,
    keyword             text,
    deputy_sector       text,
    department_id       text        NOT NULL,
    role                text        NOT NULL DEFAULT 'lead' CHECK (role IN ('lead', 'co')),
    priority            integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (court_id, rule_id)
);

-- Reply categories (DOMAIN.md §3 step 6). Without rows: A, B, C.
CREATE TABLE reply_category (
    court_id            text        NOT NULL,
    code                text        NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,16}$'),
    label               text        NOT NULL DEFAULT '',
    PRIMARY KEY (court_id, code)
);

-- ---- items ---------------------------------------------------------------------

-- One row per item: the lifecycle value of domain/lifecycle.h (state,
-- round, deputies, replies, meetings, evaluation) plus what the commands
-- check. `version` grows with every command, for clients and tests.
CREATE TABLE item (
    item_id             uuid        PRIMARY KEY,
    court_id            text        NOT NULL,
    registration_number text        NOT NULL DEFAULT '',
    kind                text        NOT NULL,   -- the proto ItemKind name (ITEM_KIND_...)
    domain_kind         text        NOT NULL,   -- domain/lifecycle.h kind
    court_role          text        NOT NULL CHECK (court_role IN ('lead', 'co')),
    title               text        NOT NULL DEFAULT '',
    content             text        NOT NULL DEFAULT '',
    receiving_department_id text    NOT NULL DEFAULT '',
    received_date       date,
    registered_at       timestamptz,
    state               text        NOT NULL,
    round               integer     NOT NULL DEFAULT 1 CHECK (round >= 1),
    deputies            integer     NOT NULL CHECK (deputies >= 1),
    replies             integer     NOT NULL DEFAULT 0 CHECK (replies >= 0),
    meetings            integer     NOT NULL DEFAULT 0 CHECK (meetings >= 0),
    evaluation          text        NOT NULL DEFAULT 'none',
    -- the handling plan (拟办意见) of the current round
    opinion             text        NOT NULL DEFAULT '',
    approver_kind       text        NOT NULL DEFAULT '',
    approver_staff_id   text        NOT NULL DEFAULT '',
    approved_date       date,
    transferred_date    date,
    lead_department_id  text        NOT NULL DEFAULT '',
    forward_target      text        NOT NULL DEFAULT '',
    forward_department_id text      NOT NULL DEFAULT '',
    state_since         timestamptz NOT NULL,
    version             integer     NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (replies <= deputies)
);
CREATE INDEX item_court_state ON item (court_id, state, state_since, item_id);
CREATE INDEX item_court_approver ON item (court_id, approver_staff_id) WHERE state = 'awaiting-approval';

CREATE TABLE item_deputy (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    position            integer     NOT NULL,
    deputy_id           text        NOT NULL,
    name                text        NOT NULL DEFAULT '',
    lead                boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (item_id, position),
    UNIQUE (item_id, deputy_id)
);

-- The departments of the plan, per round. `active` turns false when the
-- item is returned or re-routed; the current plan is the active rows.
CREATE TABLE assignment (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    round               integer     NOT NULL,
    department_id       text        NOT NULL,
    department_name     text        NOT NULL DEFAULT '',
    role                text        NOT NULL CHECK (role IN ('lead', 'co')),
    instructions        text        NOT NULL DEFAULT '',
    active              boolean     NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assignment_item ON assignment (item_id) WHERE active;
CREATE INDEX assignment_department ON assignment (court_id, department_id) WHERE active;

-- Reply drafts (拟写答复文稿, Art. 14): one per revision.
CREATE TABLE reply (
    reply_id            uuid        PRIMARY KEY,
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    round               integer     NOT NULL,
    revision            integer     NOT NULL,
    department_id       text        NOT NULL,
    category            text        NOT NULL,
    text                text        NOT NULL,
    status              text        NOT NULL DEFAULT 'drafted'
                                    CHECK (status IN ('drafted', 'approved', 'rejected')),
    drafted_at          timestamptz NOT NULL DEFAULT now(),
    decided_at          timestamptz,
    UNIQUE (item_id, round, revision)
);

-- Each recipient answered (统一答复, Art. 14): one per deputy and round.
CREATE TABLE reply_sent (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    round               integer     NOT NULL,
    deputy_id           text        NOT NULL,
    reply_id            uuid,
    method              text        NOT NULL,
    category            text        NOT NULL DEFAULT '',
    sent_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round, deputy_id)
);

-- Each deputy's evaluation of the round's reply.
CREATE TABLE evaluation (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    round               integer     NOT NULL,
    deputy_id           text        NOT NULL,
    satisfaction        text        NOT NULL CHECK (satisfaction IN ('satisfied', 'basic', 'unsatisfied')),
    comment             text        NOT NULL DEFAULT '',
    event_id            uuid        NOT NULL,
    evaluated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round, deputy_id)
);

-- The item's whole history: every step, in order (n from 1), with the
-- event that announced it. The registration is step 1.
CREATE TABLE history (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    n                   integer     NOT NULL,
    at                  timestamptz NOT NULL,
    action              text        NOT NULL,
    from_state          text        NOT NULL,
    to_state            text        NOT NULL,
    round               integer     NOT NULL,
    actor               jsonb       NOT NULL DEFAULT '{}',
    detail              jsonb       NOT NULL DEFAULT '{}',
    event_id            uuid,
    event_type          text        NOT NULL DEFAULT '',
    PRIMARY KEY (item_id, n)
);

-- Idempotency-Key of the commands (ARCHITECTURE.md §5): the first answer of
-- a key, with a hash of its request (item, action, body). Written in the
-- command's own transaction, so a key is recorded exactly when its effect
-- is; a concurrent retry waits on the primary key until the first commits.
-- Refusals store nothing: they changed nothing, and a retry is re-checked.
CREATE TABLE idempotency (
    court_id            text        NOT NULL,
    idem_key            text        NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
    request_hash        text        NOT NULL,
    status              integer     NOT NULL,
    response            jsonb       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, idem_key)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dir_court', 'dir_department', 'dir_staff', 'dir_deputy',
                             'approver_rule', 'suggestion_rule', 'reply_category', 'item',
                             'item_deputy', 'assignment', 'reply', 'reply_sent', 'evaluation',
                             'history', 'idempotency'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY by_court ON %I USING (court_visible(court_id)) WITH CHECK (court_visible(court_id))', t);
    END LOOP;
END $$;
