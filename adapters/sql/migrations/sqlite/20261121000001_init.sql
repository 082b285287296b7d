-- Chimera's durable state. Every table is keyed by the design's idempotency key so that a
-- replayed write never duplicates a record. Decimals are stored as text, exactly as they travel
-- on the bus; whole documents are kept as JSON text beside the indexed columns.

CREATE TABLE portfolios (
    id          TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    status      TEXT NOT NULL,
    node_id     TEXT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX portfolios_by_node ON portfolios (node_id, id);

CREATE TABLE orders (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id  TEXT NOT NULL UNIQUE,
    intent_id        TEXT NOT NULL,
    portfolio_id     TEXT NOT NULL,
    symbol           TEXT NOT NULL,
    status           TEXT NOT NULL,
    terminal         BIGINT NOT NULL,
    filled_qty       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX orders_open ON orders (portfolio_id, terminal, created_at, seq);

CREATE TABLE fills (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    trade_id         TEXT NOT NULL UNIQUE,
    portfolio_id     TEXT NOT NULL,
    client_order_id  TEXT NOT NULL,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL,
    price            TEXT NOT NULL,
    qty              TEXT NOT NULL,
    ts               BIGINT NOT NULL,
    body             TEXT NOT NULL
);
CREATE INDEX fills_by_portfolio ON fills (portfolio_id, seq);

CREATE TABLE positions_snapshots (
    portfolio_id  TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    ts            BIGINT NOT NULL,
    qty           TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (portfolio_id, symbol, ts)
);

CREATE TABLE signals (
    signal_id     TEXT PRIMARY KEY,
    portfolio_id  TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    ts            BIGINT NOT NULL,
    features      TEXT NOT NULL,
    decision      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    config_rev    TEXT NOT NULL
);

CREATE TABLE checkpoints (
    portfolio_id  TEXT PRIMARY KEY,
    revision      BIGINT NOT NULL,
    state         TEXT NOT NULL,
    ts            BIGINT NOT NULL
);

CREATE TABLE alerts (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      TEXT NOT NULL,
    ts        BIGINT NOT NULL
);

CREATE TABLE dead_letters (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      TEXT NOT NULL,
    ts        BIGINT NOT NULL
);

CREATE TABLE strategy_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    key       TEXT NOT NULL UNIQUE,
    source    TEXT NOT NULL,
    category  TEXT NOT NULL,
    body      TEXT NOT NULL,
    ts        BIGINT NOT NULL
);
