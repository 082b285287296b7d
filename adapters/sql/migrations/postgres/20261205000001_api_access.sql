-- The API's access tokens (secrets stored as argon2id hashes, never in clear) and its audit of
-- every mutating call: who (token id), what (method, route, target), when, outcome.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    secret_hash  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE api_audit (
    seq       BIGSERIAL PRIMARY KEY,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      JSONB NOT NULL,
    ts        BIGINT NOT NULL
);
CREATE INDEX api_audit_ts ON api_audit (ts);
CREATE INDEX alerts_ts ON alerts (ts);
