-- item_store_batch() kept each answer for its Idempotency-Key with one
-- UPDATE joined to the batch's rows; the planner, expecting 100 rows from
-- jsonb_to_recordset(), hashed every key of the court, so each batch read
-- all the court's keys and got slower as they grew (7,808 keys: 11 ms of
-- an 8-item batch). Now each key is updated by its primary key.
CREATE OR REPLACE FUNCTION item_store_batch(p_court text, p_items jsonb, p_events jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    k record;
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
    -- one key at a time, by the primary key: joined set-wise, the planner
    -- (which expects 100 rows of a function) hashed every key of the court
    FOR k IN SELECT * FROM jsonb_to_recordset(p_items) AS x(idempotency_key text, response jsonb)
              WHERE x.idempotency_key IS NOT NULL LOOP
        UPDATE idempotency SET status = 201, response = k.response
         WHERE court_id = p_court AND idem_key = k.idempotency_key;
    END LOOP;
    INSERT INTO bus_outbox (stream, event_id, type, envelope)
    SELECT t.e ->> 'stream', (t.e ->> 'event_id')::uuid, t.e ->> 'type',
           decode(t.e ->> 'envelope', 'hex')
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
     ORDER BY t.ord;
    RETURN jsonb_array_length(p_items);
END
$$;
COMMENT ON FUNCTION item_store_batch IS 'registrations of a court, second half: items, their deputies, the answers kept for their keys, their events';
