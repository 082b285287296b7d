-- Realised funding (from the exchange's income history, one row per account, symbol and
-- funding time) and wallet transfers: the transfer (keyed by the caller's transfer_id), every
-- state it went through, and the per-direction locks that keep transfers one at a time.
-- Decimals as text.
CREATE TABLE funding_records (
    account       TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    funding_time  BIGINT NOT NULL,
    rate          TEXT,
    amount        TEXT NOT NULL,
    asset         TEXT NOT NULL,
    venue_id      BIGINT NOT NULL,
    PRIMARY KEY (account, symbol, funding_time)
);
CREATE INDEX funding_records_by_time ON funding_records (account, funding_time);

CREATE TABLE treasury_transfers (
    transfer_id    TEXT PRIMARY KEY,
    account        TEXT NOT NULL,
    direction      TEXT NOT NULL CHECK (direction IN ('spot_to_usdm', 'usdm_to_spot')),
    asset          TEXT NOT NULL,
    amount         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'confirmed', 'failed')),
    venue_tran_id  BIGINT UNIQUE,
    detail         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE treasury_transfer_states (
    seq          BIGSERIAL PRIMARY KEY,
    transfer_id  TEXT NOT NULL,
    state        TEXT NOT NULL,
    at           BIGINT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX treasury_transfer_states_by_id ON treasury_transfer_states (transfer_id, seq);

CREATE TABLE treasury_locks (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
