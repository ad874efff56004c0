-- MCP tools (docs/API.md "Tools from MCP servers", "Approving tool calls").
--
-- tool_call_starts: a tool call that may act on the world records here that it started,
-- before it is sent; a second attempt of the same task (its worker died mid-call) finds
-- the row and answers `interrupted` instead of calling again.
CREATE TABLE tool_call_starts (
  task_id    text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now()
);

-- tool_approvals: tool calls that wait (or waited) for the user's decision. The API
-- decides a row (decision NULL -> approve/deny) and then signals the chat workflow; the
-- workflow closes an undecided row as expired or cancelled. Whoever writes first wins,
-- so the row is the one truth about a call's decision.
CREATE TABLE tool_approvals (
  user_id       uuid NOT NULL,
  request_id    text NOT NULL,
  tool_call_id  text NOT NULL,
  session_id    text NOT NULL,
  name          text NOT NULL,
  -- The arguments as the LLM wrote them (JSON text).
  arguments     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  decision      text CHECK (decision IN ('approve', 'deny', 'expired', 'cancelled')),
  decided_at    timestamptz,
  PRIMARY KEY (user_id, request_id, tool_call_id)
);
CREATE INDEX tool_approvals_pending_idx ON tool_approvals (user_id, created_at) WHERE decision IS NULL;
