-- Bearer tokens as a daemon other than intake knows them: a projection of
-- intake's TokenIssued / TokenRevoked events (only hashes travel). Taken by
-- each consuming service through a link in its own directory, so the table
-- lives in that service's schema.
CREATE TABLE auth_token (
    token_hash      text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    court_id        text,
    role            text        NOT NULL CHECK (role IN ('liaison_office', 'leader', 'department',
                                  'operator', 'auditor', 'system')),
    department_id   text,
    staff_id        text,
    name            text        NOT NULL DEFAULT '',
    issued_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CHECK ((role = 'operator') = (court_id IS NULL))
);
