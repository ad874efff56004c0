/**
 * Shapes of the HTTP API's answers (docs/API.md "Sessions"), shared by the server that
 * writes them and the client library that reads them. Pure types: importable anywhere,
 * the browser build included.
 */

/** `GET /v1/sessions` item (and `PATCH /v1/sessions/:sessionId`'s answer). */
export interface Session {
  sessionId: string;
  /** The user's title, else the start of the first user message, else null. */
  title: string | null;
  createdAt: string;
  lastMessageAt: string;
  messageCount: number;
  /** Tokens billed in this session (usage records, kept even after a delete). */
  tokens: number;
}

export interface SessionPage {
  sessions: Session[];
  /** Opaque; absent on the last page. */
  nextCursor?: string;
}

/** `GET /v1/sessions/:sessionId/messages` item. */
export interface Message {
  id: string;
  role: 'user' | 'assistant' | 'tool';
  content: string;
  createdAt: string;
  tokens: number;
}
