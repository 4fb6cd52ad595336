-- liaison-migrate: superuser
--
-- The notify schema: notices to deputies, staff and leaders, and their deliveries.
--
-- Least privilege (ARCHITECTURE.md §1: a daemon never reads or writes
-- another daemon's schema): the schema belongs to the login role
-- liaison_notify, which liaisonctl migrate creates (NOSUPERUSER NOCREATEDB
-- NOCREATEROLE) and allows nothing else in this database: no CREATE or
-- USAGE on public, no access to the other services' schemas.
--
-- This file runs as the administrator (the directive above) because only
-- it can create a schema. Every later migration of notify runs with
-- SET LOCAL ROLE liaison_notify and search_path = notify, so what it creates is
-- owned by the service's role by construction.

CREATE SCHEMA IF NOT EXISTS notify AUTHORIZATION liaison_notify;
ALTER SCHEMA notify OWNER TO liaison_notify;
REVOKE ALL ON SCHEMA notify FROM PUBLIC;
COMMENT ON SCHEMA notify IS 'liaison-notify: notices to deputies, staff and leaders, and their deliveries';

-- The daemon's connections find their own tables first.
ALTER ROLE liaison_notify SET search_path = notify;

-- Functions the service creates are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE liaison_notify REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Should a later migration need the administrator (an extension, say),
-- whatever it creates here is still the service's to use.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA notify
  GRANT ALL ON TABLES TO liaison_notify;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA notify
  GRANT ALL ON SEQUENCES TO liaison_notify;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA notify
  GRANT EXECUTE ON FUNCTIONS TO liaison_notify;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA notify
  GRANT USAGE ON TYPES TO liaison_notify;
