/**
 * A small JSON-lines logger. Values under keys that look secret are masked, and so
 * are passwords inside URLs and API keys (`dck_...`) inside any string, so a log line
 * can never leak a credential.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const SECRET_KEY = /secret|password|token|api[-_]?key|authorization|cookie/i;
const URL_PASSWORD = /(\/\/[^:/@\s]+:)[^@\s]+@/g;
/** An API key anywhere in a string (users/api-keys.ts): masked even in free text or URLs. */
const API_KEY = /dck_[A-Za-z0-9_-]+/g;
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Masks secrets in a value about to be logged (keys that look secret, URL passwords). */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string')
    return value.replace(URL_PASSWORD, '$1***@').replace(API_KEY, 'dck_***');
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, depth + 1) };
  }
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? '***' : redact(v, depth + 1);
  }
  return out;
}

/**
 * Creates a logger writing one JSON object per line to stderr (or the given sink).
 * Processes pass `config.logLevel` (`LOG_LEVEL`); the logger itself reads no environment.
 */
export function createLogger(
  base: Record<string, unknown> = {},
  minLevel: Level = 'info',
  sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const log = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < (ORDER[minLevel] ?? 20)) return;
    const entry = redact({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    sink(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, minLevel, sink),
  };
}
