-- What each ledger row cost in US dollars (docs/API.md "Models and providers"): its
-- tokens at the price of the provider and model that answered (LLM_CONFIG). NULL when no
-- price was configured, and for rows written before prices existed. Nano-dollar
-- precision: a row of a few tokens at cents per million still sums exactly.
ALTER TABLE usage_records ADD COLUMN cost_usd numeric(20, 9) CHECK (cost_usd >= 0);
