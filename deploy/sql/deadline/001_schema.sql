-- liaison-migrate: superuser
--
-- The deadline schema: deadlines and their timers, urging and escalation (Arts. 13-16, 20).
--
-- Least privilege (ARCHITECTURE.md §1: a daemon never reads or writes
-- another daemon's schema): the schema belongs to the login role
-- liaison_deadline, which liaisonctl migrate creates (NOSUPERUSER NOCREATEDB
-- NOCREATEROLE) and allows nothing else in this database: no CREATE or
-- USAGE on public, no access to the other services' schemas.
--
-- This file runs as the administrator (the directive above) because only
-- it can create a schema. Every later migration of deadline runs with
-- SET LOCAL ROLE liaison_deadline and search_path = deadline, so what it creates is
-- owned by the service's role by construction.

CREATE SCHEMA IF NOT EXISTS deadline AUTHORIZATION liaison_deadline;
ALTER SCHEMA deadline OWNER TO liaison_deadline;
REVOKE ALL ON SCHEMA deadline FROM PUBLIC;
COMMENT ON SCHEMA deadline IS 'liaison-deadline: deadlines and their timers, urging and escalation (Arts. 13-16, 20)';

-- The daemon's connections find their own tables first.
ALTER ROLE liaison_deadline SET search_path = deadline;

-- Functions the service creates are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE liaison_deadline REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Should a later migration need the administrator (an extension, say),
-- whatever it creates here is still the service's to use.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA deadline
  GRANT ALL ON TABLES TO liaison_deadline;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA deadline
  GRANT ALL ON SEQUENCES TO liaison_deadline;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA deadline
  GRANT EXECUTE ON FUNCTIONS TO liaison_deadline;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA deadline
  GRANT USAGE ON TYPES TO liaison_deadline;
