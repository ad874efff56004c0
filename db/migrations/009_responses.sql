-- Responses (docs/API.md "Responses API"). A response is one chat request: its text,
-- events and usage live where every request's do (the session's messages, the request's
-- event log, the ledger). This row holds only what the request does not: who owns the
-- response id, the session its chain is, what the client attached to it, when it
-- expires, and, once someone has seen it end, its final status (so the answer outlives
-- the event log and the workflow's history). Deleting the session deletes its responses.
CREATE TABLE responses (
  id                   text PRIMARY KEY,
  user_id              uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  request_id           uuid NOT NULL,
  session_id           uuid NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
  previous_response_id text,
  model                text NOT NULL,
  background           boolean NOT NULL,
  metadata             jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  status               text CHECK (status IN ('completed', 'incomplete', 'failed', 'cancelled')),
  error                jsonb
);
CREATE INDEX responses_user_expiry_idx ON responses (user_id, expires_at);
CREATE INDEX responses_session_idx ON responses (session_id);
