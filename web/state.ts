/**
 * What the app holds between events: the signed-in client, the sidebar's sessions, the
 * open conversation and the reply being written. One object, so every screen part
 * reads the same values.
 */
import type { ChatClient, ChatHandle, Session } from '../client';

export const state: {
  /** Set once signed in; undefined on the sign-in screen. */
  client: ChatClient | undefined;
  /** The sidebar's sessions, most recent activity first. */
  sessions: Session[];
  /** The open conversation; undefined for a new one not yet sent. */
  current: string | undefined;
  /** The reply being written, if any (one at a time). */
  running: ChatHandle | undefined;
} = { client: undefined, sessions: [], current: undefined, running: undefined };
