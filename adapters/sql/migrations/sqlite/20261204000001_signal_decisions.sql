-- Decision records in the signals table (see the PostgreSQL migration of the same name).
-- Decimals stay exact TEXT, JSON stays TEXT.
ALTER TABLE signals ADD COLUMN model_p TEXT;
ALTER TABLE signals ADD COLUMN body TEXT;
CREATE INDEX signals_portfolio_ts ON signals (portfolio_id, ts);
