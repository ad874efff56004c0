/** Small host helpers for the dev scripts: finding programs, local hosts, apt-get. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { loadToolingConfig } from '../../lib/config';
import { runCommand } from './child';
import type { Logger } from './log';

/** True when `file` exists and is executable. */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, or null. */
export function findOnPath(name: string): string | null {
  for (const dir of loadToolingConfig().searchPath) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** True for hosts this machine can start a server for. */
export function isLocalHost(host: string): boolean {
  return ['', 'localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0'].includes(host.toLowerCase());
}

/** Splits `host:port` (IPv6 in brackets allowed). */
export function parseHostPort(
  address: string,
  defaultPort: number,
): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(address.trim());
  if (!m) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1] ?? '', port: m[2] ? Number(m[2]) : defaultPort };
}

/** The last `n` lines of a text, for error messages. */
export function tail(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Installs Debian packages with `apt-get update && apt-get install -y`, saying so
 * first; throws with the command to run by hand when that is not possible.
 */
export async function aptInstall(packages: readonly string[], log: Logger): Promise<void> {
  const manual = `apt-get update && apt-get install -y ${packages.join(' ')}`;
  if (process.getuid?.() !== 0 || !findOnPath('apt-get')) {
    throw new Error(`${packages.join(', ')} is not installed; install it with: sudo ${manual}`);
  }
  log.info(`installing ${packages.join(', ')}: ${manual} (this can take a minute)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', ...packages]]) {
    const result = await runCommand('apt-get', args, { env });
    if (result.code !== 0) {
      throw new Error(`apt-get ${args.join(' ')} failed:\n${tail(result.output)}`);
    }
  }
  log.info(`installed ${packages.join(', ')}`);
}
