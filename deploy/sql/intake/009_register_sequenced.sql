-- Registration events take their stream positions in the registering
-- transaction (services/intake/intake_item.c, "numbered ahead").
--
-- Under 008 a batch's events went into the outbox without a position and
-- the bus sequencer numbered them after COMMIT, in a transaction of its own:
-- every event row was written twice (the second time with all its indexes,
-- the position being one of the indexed columns) and every batch cost a
-- second WAL flush. item_register_numbered() now takes the stream's head row
-- right after the court's counter, moves it by the number of events and
-- writes the events with their positions. Both rows stay locked to COMMIT,
-- taken always in that order (counter, then head), so:
--   - positions are gapless: the head and the rows it covers commit
--     together or not at all;
--   - they are in commit order: the next writer of the head (another batch,
--     or the sequencer for rows written without a position, e.g. by the
--     two-step path or a directory change) waits for this COMMIT;
--   - a reader never sees a position above one that is not yet visible,
--     since nobody can take the next position before this one commits.
-- The sequencer still runs for every other event of the stream; its round
-- (services/common/bus_sequencer.c) no longer writes the head when it finds
-- nothing to number, so the round after each batch's COMMIT is a read.

CREATE OR REPLACE FUNCTION item_register_numbered(p_court text, p_zone text, p_template text,
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
    v_stream text;
    n_streams integer;
    n_events integer;
    v_head bigint;
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
    -- the items and their deputies (the keys have their answers); the events
    -- after the counter, below
    PERFORM item_store_rows(p_court, p_items, '[]'::jsonb);
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
    -- The events, with their positions: the stream's head row is taken after
    -- the counter and, like it, held to COMMIT, so positions are gapless
    -- and in commit order whoever else moves the head (the sequencer, for
    -- rows written without one). Without a head row yet (no sequencer was
    -- ever elected) or with events of several streams, they are written
    -- without positions and the sequencer gives them theirs after COMMIT.
    SELECT min(t.e ->> 'stream'), count(DISTINCT t.e ->> 'stream'), count(*)
      INTO v_stream, n_streams, n_events
      FROM jsonb_array_elements(p_events) AS t(e);
    IF n_streams = 1 THEN
        UPDATE bus_stream_head SET head = head + n_events, updated_at = now()
         WHERE stream = v_stream
        RETURNING head INTO v_head;
    END IF;
    INSERT INTO bus_outbox (stream, seq, sequenced_at, event_id, type, envelope)
    SELECT t.e ->> 'stream', v_head - n_events + t.ord,
           CASE WHEN v_head IS NOT NULL THEN now() END,
           (t.e ->> 'event_id')::uuid, t.e ->> 'type', decode(t.e ->> 'envelope', 'hex')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
     ORDER BY t.ord;
    RETURN v_last;
END
$$;
COMMENT ON FUNCTION item_register_numbered IS 'registrations of a court numbered by the daemon from the counter it expects: checks, store, counter and the events'' stream positions in one call, or nothing (Art. 13)';
