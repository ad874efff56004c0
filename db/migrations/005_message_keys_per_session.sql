-- Message keys are built from the client's requestId, which is only unique per user:
-- two users sending the same requestId must never meet on one row (issue 11). A key is
-- now unique within its session (a session belongs to one user), so the same requestId
-- in another user's session is another message. Existing rows need no rewrite: keys
-- unique across all sessions are unique within each.
ALTER TABLE chat_messages DROP CONSTRAINT IF EXISTS chat_messages_message_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS chat_messages_session_key_idx
  ON chat_messages (session_id, message_key);
