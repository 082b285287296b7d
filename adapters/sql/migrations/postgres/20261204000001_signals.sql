-- Decision records ("signals"): one row per entry a strategy asked for, keyed by its signal id,
-- with the decision's reason code as category and the whole record (features, decision, trace,
-- model score, config revision) as JSON, so a decision can be explained and labelled later.
CREATE TABLE signals (
    seq       BIGSERIAL PRIMARY KEY,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      JSONB NOT NULL,
    ts        BIGINT NOT NULL
);
CREATE INDEX signals_source_ts ON signals (source, ts);
