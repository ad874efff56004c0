/**
 * The public contract's shapes (docs/API.md) as the client sees them: HTTP answers and
 * the WebSocket frames of a chat request. Frame types come from contracts/protocol.ts,
 * the one definition the server also uses.
 */
import type { ServerFrame } from '../contracts/protocol';
import type { ClientErrorCode } from './errors';

export type { ErrorCode } from '../contracts/errors';
export type { ServerFrame, StatusState, QuotaSnapshot } from '../contracts/protocol';
export type { ApprovalDecision, PendingApproval } from '../contracts/approval';

/** One tool the LLM may be offered (`GET /v1/tools`). */
export interface ToolInfo {
  name: string;
  description: string;
  source: 'builtin' | 'mcp';
  server?: string;
  approval: 'required' | 'none';
  inputSchema: Record<string, unknown>;
}

/** `GET /v1/tools`: every tool, and every configured MCP server with its status. */
export interface ToolList {
  tools: ToolInfo[];
  servers: Array<{ name: string; status: 'up' | 'down'; tools: string[] }>;
}

/** A frame of type `T`. */
export type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

/**
 * An `error` frame. Besides the server's, the client makes one itself (`local: true`)
 * when a request can no longer be followed (the client was closed, the token was
 * refused) or was cancelled before it ever reached the server.
 */
export interface ErrorFrame {
  type: 'error';
  requestId?: string;
  /** Present when the error is one of the request's events (written by its workflow). */
  eventId?: string;
  code: ClientErrorCode;
  message: string;
  /** Whole seconds to wait before trying again, when the server said so. */
  retryAfter?: number;
  local?: boolean;
}

/** Every frame that belongs to one chat request (all but `pong`). */
export type ChatEvent = Exclude<ServerFrame, { type: 'pong' } | { type: 'error' }> | ErrorFrame;
export type DoneFrame = FrameOf<'done'>;
/** The frame that ends a request: exactly one per request. */
export type TerminalFrame = DoneFrame | ErrorFrame;

export type { Message, Session, SessionPage } from '../contracts/http';

export interface Preferences {
  depthPreference: string;
  curiosityPreference: string;
  flameLevel: number;
  flameBrightness: number;
}

/** `GET /v1/me`. */
export interface Profile {
  userId: string;
  nickname: string | null;
  timezone: string;
  language: string;
  isPro: boolean;
  plan: 'free' | 'pro';
  preferences: Preferences;
  activeSlots: string[];
  dailyCap: number;
  personaType: string;
  engagementLevel: string;
}

/** `PATCH /v1/me` body: any of these. */
export interface ProfileUpdate {
  nickname?: string;
  timezone?: string;
  language?: string;
  depthPreference?: string;
  curiosityPreference?: string;
  flameLevel?: number;
  flameBrightness?: number;
  activeSlots?: string[];
  dailyCap?: number;
  personaType?: string;
}

export interface QuotaWindow {
  used: number;
  limit: number;
  remaining: number;
}

/** `GET /v1/me/usage`. */
export interface Usage {
  /** `costUsd`: US dollars at the configured prices (0 without them). */
  daily: Array<{ date: string; tokens: number; costUsd: number }>;
  month: { period: string; tokens: number; costUsd: number };
  quota: { plan: 'free' | 'pro'; daily: QuotaWindow; monthly: QuotaWindow };
}

/** `GET /v1/tasks/:taskId`. */
export interface Task {
  taskId: string;
  tool: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  progress: number;
  message: string;
  result?: unknown;
  error?: unknown;
}

/** Daily quotas restart at 00:00 UTC (docs/API.md configuration): the next reset after `now`. */
export function nextDailyReset(now: Date = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}
