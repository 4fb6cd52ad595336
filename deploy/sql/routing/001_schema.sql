-- liaison-migrate: superuser
--
-- The routing schema: each item's workflow: approval, assignment, handling, replies, evaluation
-- (Arts. 14-21).
--
-- Least privilege (ARCHITECTURE.md §1: a daemon never reads or writes
-- another daemon's schema): the schema belongs to the login role
-- liaison_routing, which liaisonctl migrate creates (NOSUPERUSER NOCREATEDB
-- NOCREATEROLE) and allows nothing else in this database: no CREATE or
-- USAGE on public, no access to the other services' schemas.
--
-- This file runs as the administrator (the directive above) because only
-- it can create a schema. Every later migration of routing runs with
-- SET LOCAL ROLE liaison_routing and search_path = routing, so what it creates is
-- owned by the service's role by construction.

CREATE SCHEMA IF NOT EXISTS routing AUTHORIZATION liaison_routing;
ALTER SCHEMA routing OWNER TO liaison_routing;
REVOKE ALL ON SCHEMA routing FROM PUBLIC;
COMMENT ON SCHEMA routing IS 'liaison-routing: each item''s workflow: approval, assignment, handling, replies, evaluation (Arts. 14-21)';

-- The daemon's connections find their own tables first.
ALTER ROLE liaison_routing SET search_path = routing;

-- Functions the service creates are not executable by everyone.
ALTER DEFAULT PRIVILEGES FOR ROLE liaison_routing REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Should a later migration need the administrator (an extension, say),
-- whatever it creates here is still the service's to use.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA routing
  GRANT ALL ON TABLES TO liaison_routing;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA routing
  GRANT ALL ON SEQUENCES TO liaison_routing;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA routing
  GRANT EXECUTE ON FUNCTIONS TO liaison_routing;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA routing
  GRANT USAGE ON TYPES TO liaison_routing;
