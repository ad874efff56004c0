-- API keys (docs/API.md "API keys"): long-lived bearer credentials of a user, for
-- OpenAI-compatible clients. Only a SHA-256 hash of the key is stored (the key is 32
-- random bytes, so a plain hash is as hard to invert as the key is to guess); `prefix`
-- is the start of the key, shown so a user can tell keys apart. A revoked key keeps its
-- row (revoked_at set) for audit; "live" keys are the ones not revoked.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         text NOT NULL DEFAULT '',
  prefix       text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_user_live_idx ON api_keys (user_id, created_at) WHERE revoked_at IS NULL;
