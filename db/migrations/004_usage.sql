-- Token usage ledger and per-user quota overrides (docs/SPEC.md "P1 Token metering").

-- One row per chat request that used tokens, written by the billing workflow. The key
-- (user_id, request_id) makes the insert idempotent (`ON CONFLICT DO NOTHING`): a
-- retried activity or a re-run billing workflow never adds a second row. The request
-- id alone is not unique: it is the client's idempotency key, and two users may send
-- the same one. No foreign key to users on purpose: billing rows are a ledger that
-- must be writable whatever happens to the user row, and must outlive it.
-- `created_at` is when the usage was settled (the same instant decides the UTC day of
-- the Redis counters), not when the row landed (`inserted_at`).
CREATE TABLE usage_records (
  user_id           uuid NOT NULL,
  request_id        text NOT NULL,
  session_id        uuid,
  model             text NOT NULL,
  prompt_tokens     integer NOT NULL CHECK (prompt_tokens >= 0),
  completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
  total_tokens      integer NOT NULL CHECK (total_tokens >= 0),
  estimated         boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL,
  inserted_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, request_id)
);
-- Daily/monthly sums per user (quota rebuild, GET /v1/me/usage).
CREATE INDEX usage_records_user_time_idx ON usage_records (user_id, created_at) INCLUDE (total_tokens);

-- Per-user quota overrides; NULL keeps the plan's limit. A daily override without a
-- monthly one makes the monthly limit 30x the overridden daily limit.
CREATE TABLE user_quota_overrides (
  user_id        uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  daily_tokens   bigint CHECK (daily_tokens >= 0),
  monthly_tokens bigint CHECK (monthly_tokens >= 0),
  note           text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
