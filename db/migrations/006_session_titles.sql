-- Sessions you can manage (docs/API.md "Sessions"): a title the user may set, the last
-- activity (for "most recent first" lists) and a message count, kept beside the session
-- so a page of the list costs O(page), not O(messages).
--
-- `title` is NULL until renamed; the list then shows the start of the first user
-- message. `last_message_at` and `message_count` are kept by a trigger on every message
-- actually inserted (an idempotent re-insert hits ON CONFLICT and fires no INSERT
-- trigger), so the workers' writes need no change.
ALTER TABLE chat_sessions
  ADD COLUMN title           text CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 200),
  ADD COLUMN last_message_at timestamptz,
  ADD COLUMN message_count   integer NOT NULL DEFAULT 0 CHECK (message_count >= 0);

-- Backfill sessions that already have messages.
UPDATE chat_sessions s
   SET last_message_at = m.last_at, message_count = m.n
  FROM (SELECT session_id, max(created_at) AS last_at, count(*) AS n
          FROM chat_messages GROUP BY session_id) m
 WHERE m.session_id = s.id;
UPDATE chat_sessions SET last_message_at = created_at WHERE last_message_at IS NULL;

ALTER TABLE chat_sessions
  ALTER COLUMN last_message_at SET DEFAULT now(),
  ALTER COLUMN last_message_at SET NOT NULL;

-- The list: a user's sessions, most recent activity first, keyset-paginated.
CREATE INDEX chat_sessions_user_activity_idx
  ON chat_sessions (user_id, last_message_at DESC, id DESC);

-- A session's billed total (usage records outlive their session: no foreign key).
CREATE INDEX usage_records_session_idx
  ON usage_records (session_id) INCLUDE (total_tokens) WHERE session_id IS NOT NULL;

CREATE FUNCTION chat_sessions_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chat_sessions
     SET last_message_at = GREATEST(last_message_at, NEW.created_at),
         message_count = message_count + 1
   WHERE id = NEW.session_id;
  RETURN NULL;
END $$;

CREATE TRIGGER chat_messages_touch_session
  AFTER INSERT ON chat_messages
  FOR EACH ROW EXECUTE FUNCTION chat_sessions_touch();
