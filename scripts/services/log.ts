/**
 * A one-line-per-event logger for the dev scripts that never prints a secret: every
 * registered secret is replaced by `***`, and URLs are shown with their password masked.
 */

/** Where the scripts report what they do. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A line of a child's output, shown as `name | text`. */
  child(name: string, text: string, stream: 'stdout' | 'stderr'): void;
  /** Registers a value that must never appear in the output. */
  addSecret(secret: string | undefined): void;
}

/** A logger whose lines start with `[tag]`. */
export function createLogger(tag: string): Logger {
  const secrets = new Set<string>();
  let width = 0;
  const scrub = (text: string): string => {
    let out = text;
    for (const s of secrets) out = out.split(s).join('***');
    return out;
  };
  const write = (stream: NodeJS.WriteStream, line: string): void => {
    stream.write(`${scrub(line)}\n`);
  };
  return {
    info: (m) => write(process.stdout, `[${tag}] ${m}`),
    warn: (m) => write(process.stderr, `[${tag}] warning: ${m}`),
    error: (m) => write(process.stderr, `[${tag}] error: ${m}`),
    child: (name, text, stream) => {
      width = Math.max(width, name.length);
      write(
        stream === 'stdout' ? process.stdout : process.stderr,
        `${name.padEnd(width)} | ${text}`,
      );
    },
    addSecret: (secret) => {
      // Very short values would blank out ordinary words.
      if (secret && secret.length >= 4) secrets.add(secret);
    },
  };
}

/** The URL with its password (if any) replaced by `***`; unparsable input is returned masked whole. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '***';
  }
}

/** The password in a URL, to register with {@link Logger.addSecret}. */
export function urlPassword(raw: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(raw).password);
    return password || undefined;
  } catch {
    return undefined;
  }
}
