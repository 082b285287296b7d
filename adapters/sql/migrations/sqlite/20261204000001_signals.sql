-- Decision records (see the PostgreSQL migration of the same name); JSON stays TEXT.
CREATE TABLE signals (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      TEXT NOT NULL,
    ts        INTEGER NOT NULL
);
CREATE INDEX signals_source_ts ON signals (source, ts);
