-- Registration of items (登记, Art. 13): the items, their deputies, the
-- per-court, per-year registration counter and the idempotency record.

-- The counter behind the registration number (荔法联〔2026〕12号). One row
-- per (court, year), incremented by the registering transaction itself:
-- the row lock it takes is held to COMMIT, so registrations of one court
-- queue on it while other courts go on in parallel, and a transaction that
-- rolls back takes its increment with it. Hence numbers are gapless and
-- unique under any concurrency. (A sequence would be neither: nextval()
-- is never rolled back.)
CREATE TABLE regnum_counter (
    court_id            text        NOT NULL REFERENCES court,
    year                integer     NOT NULL CHECK (year BETWEEN 1900 AND 2399),
    last_serial         bigint      NOT NULL CHECK (last_serial > 0),
    PRIMARY KEY (court_id, year)
);

CREATE TABLE item (
    item_id             uuid        PRIMARY KEY,
    court_id            text        NOT NULL REFERENCES court,
    registration_number text        NOT NULL,
    registration_year   integer     NOT NULL,
    registration_serial bigint      NOT NULL CHECK (registration_serial > 0),
    kind                text        NOT NULL,   -- the API's kind (session-bill, remark, ...)
    domain_kind         text        NOT NULL,   -- domain/lifecycle.h kind (session-proposal, ...)
    channel             text        NOT NULL,
    source              text        NOT NULL,
    source_detail       text        NOT NULL DEFAULT '',
    source_reference    text        NOT NULL DEFAULT '',
    court_role          text        NOT NULL CHECK (court_role IN ('lead', 'co')),
    session             jsonb,                  -- {congress, term_number, meeting_number, closing_date}
    title               text        NOT NULL CHECK (title <> ''),
    content             text        NOT NULL CHECK (content <> ''),
    attachments         jsonb       NOT NULL DEFAULT '[]',
    receiving_department_code text,
    -- Art. 13: the instants and the court-local dates compared.
    received_at         timestamptz NOT NULL,
    received_date       date        NOT NULL,
    registered_at       timestamptz NOT NULL,
    registered_date     date        NOT NULL,
    registered_late     boolean     NOT NULL,
    late_reason         text,
    registered_by       jsonb       NOT NULL,   -- {role, token, department}
    idempotency_key     text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (court_id, registration_year, registration_serial),
    UNIQUE (court_id, registration_number),
    CHECK (registered_late = (registered_date > received_date)),
    CHECK (NOT registered_late OR coalesce(late_reason, '') <> '')
);
CREATE INDEX item_court_registered ON item (court_id, registered_at DESC, item_id DESC);
CREATE INDEX item_court_received ON item (court_id, received_date);

-- The deputies of an item, in the order given; a joint item has one lead
-- (领衔代表). Snapshots of the name, body and level at registration.
CREATE TABLE item_deputy (
    item_id             uuid        NOT NULL REFERENCES item,
    court_id            text        NOT NULL,
    position            integer     NOT NULL,
    deputy_id           uuid        NOT NULL REFERENCES deputy (id),
    lead                boolean     NOT NULL,
    name                text        NOT NULL,
    PRIMARY KEY (item_id, position),
    UNIQUE (item_id, deputy_id)
);
CREATE INDEX item_deputy_deputy ON item_deputy (court_id, deputy_id);
CREATE UNIQUE INDEX item_deputy_one_lead ON item_deputy (item_id) WHERE lead;

-- Idempotency-Key (ARCHITECTURE.md §5): the key of a registration with a
-- hash of its request (canonical JSON) and the answer given. A retry with
-- the same body gets the first answer; the same key with another body is
-- refused (409). Written in the registering transaction, so a key is
-- recorded exactly when its item is; a concurrent retry waits on the
-- unique index until the first commits, then reads its answer. Refused
-- requests store nothing (a corrected retry under the same key succeeds).
CREATE TABLE idempotency (
    court_id            text        NOT NULL REFERENCES court,
    idem_key            text        NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
    request_hash        text        NOT NULL,
    status              integer,
    response            jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, idem_key)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regnum_counter', 'item', 'item_deputy', 'idempotency'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY by_court ON %I USING (court_visible(court_id)) WITH CHECK (court_visible(court_id))', t);
    END LOOP;
END $$;

-- The first half of a registration, in one round trip, inside the
-- caller's transaction: bind the transaction to the court (row-level
-- security), check the court's zone and template against what the daemon
-- computed with, claim the idempotency key, check the deputies against the
-- court's roster, and take the next serial of the year. Returns one row:
--   status  'ok' | 'replay' | 'key_conflict' | 'unknown_court' |
--           'court_changed' | 'unknown_deputy' | 'deputy_term_ended' |
--           'unknown_department'
--   serial  the new serial ('ok')
--   detail  'ok': the deputies [{id, code, name, body, level}] in the order
--           asked; 'replay': {status, response}; errors: {index} of the
--           offending deputy
-- On any status but 'ok' the caller rolls back.
CREATE FUNCTION item_reserve(p_court text, p_key text, p_hash text, p_deputies text[],
                             p_year integer, p_received date, p_department text,
                             p_zone text, p_template text,
                             OUT status text, OUT serial bigint, OUT detail jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    c court%ROWTYPE;
    idem idempotency%ROWTYPE;
    d deputy%ROWTYPE;
    snap jsonb := '[]';
    i integer;
BEGIN
    PERFORM set_config('liaison.court', p_court, true);
    SELECT * INTO c FROM court WHERE court_id = p_court AND active;
    IF NOT FOUND THEN
        status := 'unknown_court'; RETURN;
    END IF;
    IF c.time_zone <> p_zone OR c.regnum_template <> p_template THEN
        status := 'court_changed';
        detail := jsonb_build_object('time_zone', c.time_zone, 'template', c.regnum_template);
        RETURN;
    END IF;
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency (court_id, idem_key, request_hash)
        VALUES (p_court, p_key, p_hash) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT * INTO idem FROM idempotency WHERE court_id = p_court AND idem_key = p_key;
            IF idem.request_hash = p_hash AND idem.response IS NOT NULL THEN
                status := 'replay';
                detail := jsonb_build_object('status', idem.status, 'response', idem.response);
            ELSE
                status := 'key_conflict';
            END IF;
            RETURN;
        END IF;
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_deputies, 1), 0) LOOP
        SELECT * INTO d FROM deputy
         WHERE court_id = p_court
           AND (code = p_deputies[i] OR id::text = lower(p_deputies[i]));
        IF NOT FOUND THEN
            status := 'unknown_deputy'; detail := jsonb_build_object('index', i - 1); RETURN;
        END IF;
        IF d.term_status <> 'serving' OR (d.term_end IS NOT NULL AND d.term_end < p_received) THEN
            status := 'deputy_term_ended';
            detail := jsonb_build_object('index', i - 1, 'term_end', d.term_end);
            RETURN;
        END IF;
        snap := snap || jsonb_build_object('id', d.id, 'code', d.code, 'name', d.name,
                                           'body', d.body, 'level', d.level);
    END LOOP;
    IF p_department IS NOT NULL THEN
        PERFORM 1 FROM department WHERE court_id = p_court AND code = p_department AND active;
        IF NOT FOUND THEN
            status := 'unknown_department'; RETURN;
        END IF;
    END IF;
    INSERT INTO regnum_counter AS r (court_id, year, last_serial) VALUES (p_court, p_year, 1)
    ON CONFLICT (court_id, year) DO UPDATE SET last_serial = r.last_serial + 1
    RETURNING r.last_serial INTO serial;
    status := 'ok';
    detail := snap;
END
$$;
COMMENT ON FUNCTION item_reserve IS 'registration, first half: court, idempotency key, deputies, next serial (Art. 13)';
