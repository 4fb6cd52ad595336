-- The directory owned by intake (DOMAIN.md §1, ARCHITECTURE.md §1): courts,
-- departments with their supervising court leader, staff with roles, groups
-- of deputies with parents, deputies and CPPCC members, and the access
-- tokens of the HTTP API.
--
-- Every record carries its court (a tenant). Row-level security by court is
-- the second wall behind the token checks of the daemon: every transaction
-- of the daemon starts with set_config('liaison.court', <court>, true), and
-- a row is visible and writable only when its court_id is that court ('*'
-- is the operator's and the system's view of all courts). The tables are
-- owned by liaison_intake, so FORCE ROW LEVEL SECURITY is needed for the
-- policies to bind the owner too. A connection that forgot to set the court
-- sees nothing (current_setting(..., true) is NULL).
--
-- Ids. Records have a code chosen by the court (the roster number of a
-- deputy, 'xz' for 行政庭) that is unique within the court, and a UUID that
-- is unique across courts and travels in events (consumers project the
-- directory by that id alone). The UUID is a function of (kind, court,
-- code), so importing the same roster twice keeps the same ids and no id
-- table is needed. Nothing is ever deleted: departments, staff and groups
-- become inactive, a deputy's term ends.

CREATE FUNCTION dir_id(kind text, court text, code text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT md5(kind || '/' || court || '/' || code)::uuid $$;
COMMENT ON FUNCTION dir_id(text, text, text) IS 'the stable UUID of a directory record: md5 of kind/court/code';

CREATE FUNCTION court_visible(court text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT current_setting('liaison.court', true) IN (court, '*') $$;
COMMENT ON FUNCTION court_visible(text) IS 'row-level security: the court set by the transaction, or * for all';

-- A court: a tenant. The registration number template is validated by the
-- daemon with the domain library before it is stored (domain/regnum.h).
CREATE TABLE court (
    court_id            text        PRIMARY KEY CHECK (court_id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                text        NOT NULL CHECK (name <> ''),
    short_name          text        NOT NULL DEFAULT '',
    time_zone           text        NOT NULL DEFAULT 'Asia/Shanghai',
    regnum_template     text        NOT NULL,
    -- The court's own days in the work-calendar syntax (deploy/calendar),
    -- and its deadline rule overrides {"transfer.unit": "workdays", ...}.
    calendar_overrides  text        NOT NULL DEFAULT '',
    rule_overrides      jsonb       NOT NULL DEFAULT '{}',
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE department (
    court_id            text        NOT NULL REFERENCES court,
    code                text        NOT NULL CHECK (code <> ''),
    name                text        NOT NULL CHECK (name <> ''),
    kind                text        NOT NULL CHECK (kind IN ('division', 'liaison-office',
                                      'petition-office', 'supervision-office', 'research-office', 'other')),
    head_code           text,       -- staff code of the 部门负责人
    supervising_code    text,       -- staff code of the 分管院领导 (Art. 7, 20)
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, code)
);

CREATE TABLE staff (
    court_id            text        NOT NULL REFERENCES court,
    code                text        NOT NULL CHECK (code <> ''),
    name                text        NOT NULL CHECK (name <> ''),
    department_code     text,
    roles               text[]      NOT NULL DEFAULT '{}',
    title               text        NOT NULL DEFAULT '',
    mobile              text        NOT NULL DEFAULT '',
    email               text        NOT NULL DEFAULT '',
    paired_group_codes  text[]      NOT NULL DEFAULT '{}',
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, code)
);

-- 街道人大联组, delegations, sectors: a generic group with a parent.
CREATE TABLE deputy_group (
    court_id            text        NOT NULL REFERENCES court,
    code                text        NOT NULL CHECK (code <> ''),
    name                text        NOT NULL CHECK (name <> ''),
    kind                text        NOT NULL CHECK (kind IN ('street', 'delegation', 'sector', 'other')),
    parent_code         text,
    street              text        NOT NULL DEFAULT '',
    liaison_officer_code text,
    active              boolean     NOT NULL DEFAULT true,
    revision            bigint      NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, code),
    CHECK (parent_code IS DISTINCT FROM code)
);

-- People's Congress deputies and CPPCC members (Art. 30). Never deleted:
-- a term ends (status 'ended' with its end date).
CREATE TABLE deputy (
    court_id            text        NOT NULL REFERENCES court,
    code                text        NOT NULL CHECK (code <> ''),
    id                  uuid        NOT NULL,
    name                text        NOT NULL CHECK (name <> ''),
    body                text        NOT NULL CHECK (body IN ('npc', 'cppcc')),
    level               text        NOT NULL CHECK (level IN ('national', 'provincial', 'municipal', 'district')),
    congress            text        NOT NULL DEFAULT '',
    term_number         integer     NOT NULL DEFAULT 0 CHECK (term_number >= 0),
    term_start          date,
    term_end            date,
    term_status         text        NOT NULL DEFAULT 'serving' CHECK (term_status IN ('serving', 'ended')),
    end_reason          text        NOT NULL DEFAULT '',
    group_codes         text[]      NOT NULL DEFAULT '{}',
    sector              text        NOT NULL DEFAULT '',
    work_unit           text        NOT NULL DEFAULT '',
    mobile              text        NOT NULL DEFAULT '',
    email               text        NOT NULL DEFAULT '',
    postal_address      text        NOT NULL DEFAULT '',
    liaison_officer_code text,
    revision            bigint      NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (court_id, code),
    UNIQUE (id),
    CHECK (id = dir_id('deputy', court_id, code)),
    CHECK (term_status = 'serving' OR term_end IS NOT NULL),
    CHECK (term_end IS NULL OR term_start IS NULL OR term_end >= term_start)
);
CREATE INDEX deputy_court_name ON deputy (court_id, name);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['court', 'department', 'staff', 'deputy_group', 'deputy'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY by_court ON %I USING (court_visible(court_id)) WITH CHECK (court_visible(court_id))', t);
    END LOOP;
END $$;

-- Bearer tokens of the HTTP API (ARCHITECTURE.md §5), stored as the
-- SHA-256 of the token (hex): a leaked table gives no usable token. The
-- role says what the holder may do; court_id is NULL only for operators,
-- who act across courts. A department token names its department.
--
-- Not under row-level security: this table is the gate itself, consulted
-- by hash before any court is known; the daemon reads it only by hash.
CREATE TABLE api_token (
    token_hash          text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    court_id            text        REFERENCES court,
    role                text        NOT NULL CHECK (role IN ('liaison_office', 'leader', 'department',
                                      'operator', 'auditor', 'system')),
    department_code     text,
    name                text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    CHECK ((role = 'operator') = (court_id IS NULL)),
    CHECK ((role = 'department') = (department_code IS NOT NULL))
);
