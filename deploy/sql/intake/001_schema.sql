-- liaison-migrate: superuser
--
-- The intake schema: the directory (courts, departments, leaders, staff, deputies, groups) and the
-- registrations of items (Art. 13).
--
-- Least privilege (ARCHITECTURE.md §1: a daemon never reads or writes
-- another daemon's schema): the schema belongs to the login role
-- liaison_intake, which liaisonctl migrate creates (NOSUPERUSER NOCREATEDB
-- NOCREATEROLE) and allows nothing else in this database: no CREATE or
-- USAGE on public, no access to the other services' schemas.
--
-- This file runs as the administrator (the directive above) because only
-- it can create a schema. Every later migration of intake runs with
-- SET LOCAL ROLE liaison_intake and search_path = intake, so what it creates is
-- owned by the service's role by construction.

CREATE SCHEMA IF NOT EXISTS intake AUTHORIZATION liaison_intake;
ALTER SCHEMA intake OWNER TO liaison_intake;
REVOKE ALL ON SCHEMA intake FROM PUBLIC;
COMMENT ON SCHEMA intake IS 'liaison-intake: the directory (courts, departments, leaders, staff, deputies, groups) and the registrations of items (Art. 13)';

-- The daemon's connections find their own tables first.
ALTER ROLE liaison_intake SET search_path = intake;

-- Functions the service creates are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE liaison_intake REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Should a later migration need the administrator (an extension, say),
-- whatever it creates here is still the service's to use.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA intake
  GRANT ALL ON TABLES TO liaison_intake;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA intake
  GRANT ALL ON SEQUENCES TO liaison_intake;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA intake
  GRANT EXECUTE ON FUNCTIONS TO liaison_intake;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA intake
  GRANT USAGE ON TYPES TO liaison_intake;
