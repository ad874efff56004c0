-- Incremental conversation summaries: one row per session, covering the history up to
-- `watermark_message_id`; the next summarisation folds only newer old messages into it.
CREATE TABLE chat_summaries (
  session_id              uuid PRIMARY KEY REFERENCES chat_sessions(id) ON DELETE CASCADE,
  summary                 text NOT NULL,
  watermark_message_id    bigint NOT NULL,
  tokens                  integer NOT NULL,
  model                   text NOT NULL,
  -- What producing the summary cost, all runs together (operators' cost, not billed).
  llm_prompt_tokens       bigint NOT NULL DEFAULT 0,
  llm_completion_tokens   bigint NOT NULL DEFAULT 0,
  runs                    integer NOT NULL DEFAULT 1,
  updated_at              timestamptz NOT NULL DEFAULT now()
);
