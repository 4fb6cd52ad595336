-- liaison-migrate: superuser
--
-- The report schema: read models, statistics and periodic reports (Arts. 8(4), 8(5), 8(7), 22, 27).
--
-- Least privilege (ARCHITECTURE.md §1: a daemon never reads or writes
-- another daemon's schema): the schema belongs to the login role
-- liaison_report, which liaisonctl migrate creates (NOSUPERUSER NOCREATEDB
-- NOCREATEROLE) and allows nothing else in this database: no CREATE or
-- USAGE on public, no access to the other services' schemas.
--
-- This file runs as the administrator (the directive above) because only
-- it can create a schema. Every later migration of report runs with
-- SET LOCAL ROLE liaison_report and search_path = report, so what it creates is
-- owned by the service's role by construction.

CREATE SCHEMA IF NOT EXISTS report AUTHORIZATION liaison_report;
ALTER SCHEMA report OWNER TO liaison_report;
REVOKE ALL ON SCHEMA report FROM PUBLIC;
COMMENT ON SCHEMA report IS 'liaison-report: read models, statistics and periodic reports (Arts. 8(4), 8(5), 8(7), 22, 27)';

-- The daemon's connections find their own tables first.
ALTER ROLE liaison_report SET search_path = report;

-- Functions the service creates are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE liaison_report REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Should a later migration need the administrator (an extension, say),
-- whatever it creates here is still the service's to use.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA report
  GRANT ALL ON TABLES TO liaison_report;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA report
  GRANT ALL ON SEQUENCES TO liaison_report;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA report
  GRANT EXECUTE ON FUNCTIONS TO liaison_report;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA report
  GRANT USAGE ON TYPES TO liaison_report;
