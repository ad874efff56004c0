-- Users, their push preferences, chat sessions and messages.
CREATE TABLE users (
  id                   uuid PRIMARY KEY,
  username             text NOT NULL,
  nickname             text,
  timezone             text NOT NULL DEFAULT 'Asia/Shanghai',
  language             text NOT NULL DEFAULT 'zh-CN',
  plan                 text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro')),
  depth_preference     text NOT NULL DEFAULT 'balanced',
  curiosity_preference text NOT NULL DEFAULT 'balanced',
  flame_level          integer NOT NULL DEFAULT 0 CHECK (flame_level >= 0),
  flame_brightness     integer NOT NULL DEFAULT 0 CHECK (flame_brightness >= 0),
  persona_type         text NOT NULL DEFAULT 'coach',
  version              bigint NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE push_preferences (
  user_id      uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  active_slots text[] NOT NULL DEFAULT '{}',
  daily_cap    integer NOT NULL DEFAULT 5 CHECK (daily_cap >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_sessions (
  id         uuid PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_user_idx ON chat_sessions (user_id, created_at);

-- One row per message. `message_key` makes every write idempotent: a retried activity
-- writes the same key again and changes nothing. `tokens` is the message's prompt cost
-- (chat-format overhead included), computed once when stored so pruning reads only the
-- tail of a conversation.
CREATE TABLE chat_messages (
  id               bigserial PRIMARY KEY,
  session_id       uuid NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
  request_id       uuid NOT NULL,
  message_key      text NOT NULL UNIQUE,
  role             text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
  content          text NOT NULL,
  tool_calls       jsonb,
  tool_call_id     text,
  tokens           integer NOT NULL,
  tokens_estimated boolean NOT NULL DEFAULT false,
  model            text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_session_idx ON chat_messages (session_id, id);
