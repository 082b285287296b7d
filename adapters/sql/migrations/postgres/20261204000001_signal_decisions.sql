-- Decision records in the signals table: the model's probability as a column one can query,
-- and the whole decision (multipliers, quantity, the trace of every gate, rule, model answer
-- and sizing step) as JSON. Signals stored before keep both NULL.
ALTER TABLE signals
    ADD COLUMN model_p NUMERIC,
    ADD COLUMN body JSONB;
CREATE INDEX signals_portfolio_ts ON signals (portfolio_id, ts);
