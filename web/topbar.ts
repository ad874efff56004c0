/** The top bar: the connection's state and today's token quota. */
import type { ConnectionState } from '../client';
import { ui } from './dom';
import { fail } from './notice';
import { dailyResetText } from './plain-words';
import { state } from './state';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

export function renderConnection(connection: ConnectionState): void {
  ui.connection.textContent = CONNECTION_TEXT[connection];
  ui.connection.classList.toggle('ok', connection === 'open');
  ui.connection.dataset.state = connection;
}

export function renderQuota(used: number, limit: number): void {
  ui.quotaMeter.max = Math.max(limit, 1);
  ui.quotaMeter.value = Math.min(used, limit);
  ui.quotaMeter.dataset.used = String(used);
  ui.quotaText.textContent = `${used.toLocaleString('en')} / ${limit.toLocaleString('en')} · resets ${dailyResetText()}`;
}

export async function refreshQuota(): Promise<void> {
  if (!state.client) return;
  try {
    const usage = await state.client.usage(1);
    renderQuota(usage.quota.daily.used, usage.quota.daily.limit);
  } catch (err) {
    fail(err);
  }
}
