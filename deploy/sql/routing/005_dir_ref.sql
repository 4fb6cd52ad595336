-- A directory reference as a client gives it: intake's id (a UUID), or the
-- court's own code ('xz' for 行政庭), which intake turns into that id as
-- md5(kind/court/code) (deploy/sql/intake/003_directory.sql, dir_id). So
-- people and liaisonctl may say "xz" and events still carry the id.
CREATE FUNCTION dir_ref(kind text, court text, ref text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN ref IS NULL OR ref = '' THEN ref
                  WHEN ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN lower(ref)
                  ELSE md5(kind || '/' || court || '/' || ref)::uuid::text END $$;
COMMENT ON FUNCTION dir_ref(text, text, text) IS 'a directory id from an id or a court code (intake''s dir_id)';
