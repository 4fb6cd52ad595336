-- Group commit of registrations (services/intake/intake_item.c): the daemon
-- registers every registration waiting for it in ONE transaction, so that a
-- court's counter row is locked and updated once per batch, the batch costs
-- a few statements instead of a few per item, and it shares one WAL flush.
--
-- Per court of the batch, two statements:
--   item_reserve_batch()  the first half of each registration (what
--                         item_reserve() did for one), then ONE counter update
--                         for all that passed: serials last+1 .. last+n, in
--                         the order of the requests;
--   item_store_batch()    the items, their deputies, the answers kept for
--                         their Idempotency-Keys, and their events in the
--                         outbox (one ItemRegistered per item, the envelope
--                         packed by the daemon as bus_publish() packs it).
--
-- A refusal inside the batch must leave nothing behind without a rollback,
-- which would sink the whole batch: item_claim() releases the key it has
-- just claimed when a deputy or the department is refused (item_reserve()
-- left that to the caller's rollback). The counter is taken only for the
-- registrations that passed, so the numbers stay gapless.

-- One registration's checks inside the caller's transaction, bound to the
-- court already (liaison.court): claim the Idempotency-Key (or find its
-- replay or conflict), the deputies on the court's roster and serving, the
-- receiving department. Returns
--   status  'ok' | 'replay' | 'key_conflict' | 'unknown_deputy' |
--           'deputy_term_ended' | 'unknown_department'
--   detail  as item_reserve()
-- Anything but 'ok' has written nothing.
CREATE FUNCTION item_claim(p_court text, p_key text, p_hash text, p_deputies text[],
                           p_received date, p_department text,
                           OUT status text, OUT detail jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    idem idempotency%ROWTYPE;
    d deputy%ROWTYPE;
    snap jsonb := '[]';
    i integer;
BEGIN
    IF p_key IS NOT NULL THEN
        -- waits for a concurrent first request with this key to end
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
            status := 'unknown_deputy';
            detail := jsonb_build_object('index', i - 1);
            EXIT;
        END IF;
        IF d.term_status <> 'serving' OR (d.term_end IS NOT NULL AND d.term_end < p_received) THEN
            status := 'deputy_term_ended';
            detail := jsonb_build_object('index', i - 1, 'term_end', d.term_end);
            EXIT;
        END IF;
        snap := snap || jsonb_build_object('id', d.id, 'code', d.code, 'name', d.name,
                                           'body', d.body, 'level', d.level);
    END LOOP;
    IF status IS NULL AND p_department IS NOT NULL THEN
        PERFORM 1 FROM department WHERE court_id = p_court AND code = p_department AND active;
        IF NOT FOUND THEN
            status := 'unknown_department';
        END IF;
    END IF;
    IF status IS NOT NULL THEN
        -- refused after claiming the key: release it, nothing is stored
        IF p_key IS NOT NULL THEN
            DELETE FROM idempotency WHERE court_id = p_court AND idem_key = p_key;
        END IF;
        RETURN;
    END IF;
    status := 'ok';
    detail := snap;
END
$$;
COMMENT ON FUNCTION item_claim IS 'registration checks: idempotency key, deputies, department; a refusal writes nothing';

-- The first half of the registrations of one court in a batch, inside the
-- caller's transaction. p_requests: [{key, hash, deputies: [text],
-- received: date, department}], in the order of arrival. One row per
-- request, in that order: status as item_claim() plus 'unknown_court' and
-- 'court_changed' (for every request: the court's zone or template is not
-- what the daemon computed with); serial for 'ok'; detail as
-- item_reserve(). The court's counter row is updated once, by the number
-- of 'ok' rows, and stays locked to COMMIT: batches of a court follow one
-- another, and a rollback takes the whole increment back.
CREATE FUNCTION item_reserve_batch(p_court text, p_zone text, p_template text, p_year integer,
                                   p_requests jsonb)
RETURNS TABLE (status text, serial bigint, detail jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    c court%ROWTYPE;
    n integer := jsonb_array_length(p_requests);
    q jsonb;
    claim record;
    statuses text[] := '{}';
    details jsonb[] := '{}';
    n_ok integer := 0;
    k integer := 0;
    v_last bigint;
    i integer;
BEGIN
    PERFORM set_config('liaison.court', p_court, true);
    SELECT * INTO c FROM court WHERE court_id = p_court AND active;
    IF NOT FOUND OR c.time_zone <> p_zone OR c.regnum_template <> p_template THEN
        FOR i IN 1 .. n LOOP
            status := CASE WHEN c.court_id IS NULL THEN 'unknown_court' ELSE 'court_changed' END;
            RETURN NEXT;
        END LOOP;
        RETURN;
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        q := p_requests -> i;
        SELECT * INTO claim
          FROM item_claim(p_court, q ->> 'key', q ->> 'hash',
                          ARRAY(SELECT jsonb_array_elements_text(q -> 'deputies')),
                          (q ->> 'received')::date, q ->> 'department');
        statuses := statuses || claim.status;
        details := details || claim.detail;
        IF claim.status = 'ok' THEN
            n_ok := n_ok + 1;
        END IF;
    END LOOP;
    IF n_ok > 0 THEN
        INSERT INTO regnum_counter AS r (court_id, year, last_serial)
        VALUES (p_court, p_year, n_ok)
        ON CONFLICT (court_id, year) DO UPDATE SET last_serial = r.last_serial + n_ok
        RETURNING r.last_serial INTO v_last;
    END IF;
    FOR i IN 1 .. n LOOP
        status := statuses[i];
        detail := details[i];
        serial := NULL;
        IF status = 'ok' THEN
            k := k + 1;
            serial := v_last - n_ok + k;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION item_reserve_batch IS 'registrations of a court, first half: checks of each, then one counter update for all (Art. 13)';

-- The second half for one court: the items (as item_reserve()'s caller
-- stored them), their deputies in the order given, each answer kept for
-- its Idempotency-Key, and the events in the outbox. p_items:
-- [{item_id, registration_number, registration_year, registration_serial,
-- kind, domain_kind, channel, source, source_detail, source_reference,
-- court_role, session, title, content, attachments, receiving_department,
-- received_us, received_date, registered_us, registered_date,
-- registered_late, late_reason, registered_by, idempotency_key, response,
-- deputies: [{id, lead, name}]}]. p_events: [{stream, event_id, type,
-- envelope}], the envelope packed by the daemon (bus_envelope_pack, in
-- hex): the row bus_publish() writes, in the order given.
CREATE FUNCTION item_store_batch(p_court text, p_items jsonb, p_events jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('liaison.court', p_court, true);
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
    UPDATE idempotency k SET status = 201, response = x.response
      FROM jsonb_to_recordset(p_items) AS x(idempotency_key text, response jsonb)
     WHERE k.court_id = p_court AND k.idem_key = x.idempotency_key;
    INSERT INTO bus_outbox (stream, event_id, type, envelope)
    SELECT t.e ->> 'stream', (t.e ->> 'event_id')::uuid, t.e ->> 'type',
           decode(t.e ->> 'envelope', 'hex')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
     ORDER BY t.ord;
    RETURN jsonb_array_length(p_items);
END
$$;
COMMENT ON FUNCTION item_store_batch IS 'registrations of a court, second half: items, their deputies, the answers kept for their keys, their events';
