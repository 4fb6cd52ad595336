-- Registration in one round trip (services/intake/intake_item.c, "numbered
-- ahead"). A batch under item_reserve_batch() + item_store_batch() costs two
-- round trips, and the daemon builds the items and their events between
-- them while it holds the court's counter row: the counter is held across a
-- network round trip and the daemon's own work, and the next batch waits on
-- all of it.
--
-- The daemon knows the court's counter as its own last commit left it. It
-- numbers the next batch from there before any statement, builds the items
-- and events, and sends the whole batch at once: BEGIN, one call of
-- item_register_numbered() per court, COMMIT. The function takes the counter
-- only if it still holds what the daemon expected, runs the checks of
-- item_claim() for the whole batch at once, and stores it. Whatever does not go exactly as the
-- daemon numbered it raises, and the transaction rolls back whole:
--
--   LQ001  the court is gone, or its zone or registration template changed;
--   LQ002  the counter is not at p_expected (another writer, a rolled-back
--          batch, a daemon restarted): the number the daemon gave is wrong;
--   LQ003  a registration did not pass item_claim() (replay, reused key,
--          unknown or term-ended deputy, unknown department), or a deputy's
--          roster entry is not the one the daemon put in the item.
--
-- The daemon then runs the batch the two-step way (005), which answers each
-- refusal as before and tells it the counter again. So the numbers stay
-- gapless and in one order whoever writes the counter: only a transaction
-- that found the counter at p_expected moves it, by exactly the number of
-- items it stores.
--
-- The counter is taken last, so its row is held only from there to COMMIT:
-- a batch numbered after another one that is still running queues on that
-- one's row lock and finds the counter where it left it; one that gets
-- there before its predecessor took the counter waits for it up to 100 ms
-- (a predecessor that rolled back leaves the counter below: LQ002 then).
--
-- The checks are item_claim()'s, set-wise: a statement each for the keys,
-- the deputies and the departments of the whole batch, not a few per
-- registration; and each key is written once, with its answer (which the
-- daemon has already built), not claimed first and answered after.
--
-- p_requests: [{key, hash, deputies: [text], received: date, department,
-- snapshot: [{id, code, name, body, level}]}], as item_reserve_batch() takes
-- them plus the roster entries the daemon used (item_claim()'s detail), in
-- the order of p_items. p_items, p_events: as item_store_batch(). Returns
-- the counter's new value.
-- The rows of a batch of registrations: the items, their deputies in the
-- order given, their events in the outbox (p_items, p_events as
-- item_store_batch() takes them). item_store_batch() is that plus the
-- answers kept for the keys; item_register_numbered() wrote its keys with
-- their answers already.
CREATE FUNCTION item_store_rows(p_court text, p_items jsonb, p_events jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO item (item_id, court_id, registration_number, registration_year,
                      registration_serial, kind, domain_kind, channel, source, source_detail,
                      source_reference, court_role, session, title, content, attachments,
                      receiving_department_code, received_at, received_date, registered_at,
                      registered_date, registered_late, late_reason, registered_by,
                      idempotency_key)
    SELECT x.item_id, p_court, x.registration_number, x.registration_year,
           x.registration_serial, x.kind, x.domain_kind, x.channel, x.source, x.source_detail,
           x.source_reference, x.court_role, x.session, x.title, x.content, x.attachments,
           x.receiving_department,
           'epoch'::timestamptz + x.received_us * interval '1 microsecond', x.received_date,
           'epoch'::timestamptz + x.registered_us * interval '1 microsecond', x.registered_date,
           x.registered_late, x.late_reason, x.registered_by, x.idempotency_key
      FROM jsonb_to_recordset(p_items) AS x(
           item_id uuid, registration_number text, registration_year integer,
           registration_serial bigint, kind text, domain_kind text, channel text, source text,
           source_detail text, source_reference text, court_role text, session jsonb,
           title text, content text, attachments jsonb, receiving_department text,
           received_us bigint, received_date date, registered_us bigint, registered_date date,
           registered_late boolean, late_reason text, registered_by jsonb,
           idempotency_key text);
    INSERT INTO item_deputy (item_id, court_id, position, deputy_id, lead, name)
    SELECT x.item_id, p_court, (t.ord - 1)::integer, (t.d ->> 'id')::uuid,
           (t.d ->> 'lead')::boolean, t.d ->> 'name'
      FROM jsonb_to_recordset(p_items) AS x(item_id uuid, deputies jsonb),
           jsonb_array_elements(x.deputies) WITH ORDINALITY AS t(d, ord);
    INSERT INTO bus_outbox (stream, event_id, type, envelope)
    SELECT t.e ->> 'stream', (t.e ->> 'event_id')::uuid, t.e ->> 'type',
           decode(t.e ->> 'envelope', 'hex')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
     ORDER BY t.ord;
END
$$;
COMMENT ON FUNCTION item_store_rows IS 'registrations of a court: the items, their deputies, their events';

-- item_store_batch() (006) becomes item_store_rows() and the answers.
CREATE OR REPLACE FUNCTION item_store_batch(p_court text, p_items jsonb, p_events jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    k record;
BEGIN
    PERFORM set_config('liaison.court', p_court, true);
    PERFORM item_store_rows(p_court, p_items, p_events);
    -- one key at a time, by the primary key (006)
    FOR k IN SELECT * FROM jsonb_to_recordset(p_items) AS x(idempotency_key text, response jsonb)
              WHERE x.idempotency_key IS NOT NULL LOOP
        UPDATE idempotency SET status = 201, response = k.response
         WHERE court_id = p_court AND idem_key = k.idempotency_key;
    END LOOP;
    RETURN jsonb_array_length(p_items);
END
$$;

CREATE FUNCTION item_register_numbered(p_court text, p_zone text, p_template text,
                                       p_year integer, p_expected bigint, p_requests jsonb,
                                       p_items jsonb, p_events jsonb)
RETURNS bigint
LANGUAGE plpgsql
-- Its statements' plans do not depend on their parameters' values (every
-- lookup is by key); left to choose, the plan cache plans them anew at
-- every call.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    c court%ROWTYPE;
    n integer := jsonb_array_length(p_requests);
    n_keys integer;
    n_bad integer;
    v_last bigint;
    v_now bigint;
    v_until timestamptz;
BEGIN
    PERFORM set_config('liaison.court', p_court, true);
    SELECT * INTO c FROM court WHERE court_id = p_court AND active;
    IF NOT FOUND OR c.time_zone <> p_zone OR c.regnum_template <> p_template THEN
        RAISE EXCEPTION 'court % changed', p_court USING ERRCODE = 'LQ001';
    END IF;
    IF n <> jsonb_array_length(p_items) OR n = 0 THEN
        RAISE EXCEPTION 'requests and items differ' USING ERRCODE = 'LQ003';
    END IF;
    -- numbered from p_expected, in order
    SELECT count(*) INTO n_bad
      FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(x, ord)
     WHERE (t.x ->> 'registration_serial')::bigint <> p_expected + t.ord;
    IF n_bad > 0 THEN
        RAISE EXCEPTION 'registrations numbered out of order' USING ERRCODE = 'LQ003';
    END IF;
    -- every deputy on the roster, serving on the day of receipt, and as the
    -- daemon put it in the item (item_claim(): unknown_deputy, deputy_term_ended)
    SELECT count(*) INTO n_bad
      FROM (SELECT r.q, g.given, g.ord
              FROM jsonb_array_elements(p_requests) AS r(q),
                   jsonb_array_elements_text(r.q -> 'deputies') WITH ORDINALITY AS g(given, ord)) x
      LEFT JOIN deputy d
             ON d.court_id = p_court
            AND d.id = ((x.q -> 'snapshot' -> (x.ord::integer - 1)) ->> 'id')::uuid
     WHERE d.id IS NULL
        OR NOT (d.code = x.given OR d.id::text = lower(x.given))
        OR d.term_status <> 'serving'
        OR (d.term_end IS NOT NULL AND d.term_end < (x.q ->> 'received')::date)
        OR jsonb_build_object('id', d.id, 'code', d.code, 'name', d.name, 'body', d.body,
                              'level', d.level)
           IS DISTINCT FROM x.q -> 'snapshot' -> (x.ord::integer - 1);
    IF n_bad > 0 OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_requests) AS r(q)
                             WHERE jsonb_array_length(r.q -> 'snapshot')
                                   <> jsonb_array_length(r.q -> 'deputies')) THEN
        RAISE EXCEPTION 'a deputy is not as numbered' USING ERRCODE = 'LQ003';
    END IF;
    -- the receiving departments (item_claim(): unknown_department)
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_requests) AS r(q)
                WHERE r.q ->> 'department' IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM department
                                   WHERE court_id = p_court AND code = r.q ->> 'department'
                                     AND active)) THEN
        RAISE EXCEPTION 'a department is unknown' USING ERRCODE = 'LQ003';
    END IF;
    -- the keys, each with its answer; one already there is a replay or a
    -- reuse (a concurrent first request: this waits for it to end)
    INSERT INTO idempotency (court_id, idem_key, request_hash, status, response)
    SELECT p_court, r.q ->> 'key', r.q ->> 'hash', 201, i.x -> 'response'
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(q, ord)
      JOIN jsonb_array_elements(p_items) WITH ORDINALITY AS i(x, ord) ON i.ord = r.ord
     WHERE r.q ->> 'key' IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n_keys = ROW_COUNT;
    IF n_keys <> (SELECT count(*) FROM jsonb_array_elements(p_requests) AS r(q)
                   WHERE r.q ->> 'key' IS NOT NULL) THEN
        RAISE EXCEPTION 'an Idempotency-Key was used before' USING ERRCODE = 'LQ003';
    END IF;
    -- the items, their deputies, their events (the keys have their answers)
    PERFORM item_store_rows(p_court, p_items, p_events);
    -- the counter, last: held from here to COMMIT only
    v_until := clock_timestamp() + interval '100 milliseconds';
    LOOP
        UPDATE regnum_counter SET last_serial = last_serial + n
         WHERE court_id = p_court AND year = p_year AND last_serial = p_expected
        RETURNING last_serial INTO v_last;
        EXIT WHEN FOUND;
        -- Below p_expected: a batch numbered just before this one has not
        -- taken the counter yet; wait for it a little. Once it has, its row
        -- lock holds the UPDATE above until it ends, which then reads its
        -- result.
        SELECT r.last_serial INTO v_now FROM regnum_counter r
         WHERE r.court_id = p_court AND r.year = p_year;
        IF v_now IS NULL OR v_now > p_expected OR clock_timestamp() > v_until THEN
            RAISE EXCEPTION 'counter of % % is at %, not at %', p_court, p_year, v_now, p_expected
                  USING ERRCODE = 'LQ002';
        END IF;
        PERFORM pg_sleep(0.0002);
    END LOOP;
    RETURN v_last;
END
$$;
COMMENT ON FUNCTION item_register_numbered IS 'registrations of a court numbered by the daemon from the counter it expects: checks, store and counter in one call, or nothing (Art. 13)';
