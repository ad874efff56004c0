/**
 * Real Chromium for the web app's tests: Debian's `chromium` (installed by
 * scripts/ensure-chromium.sh when missing), driven by playwright-core, headless, with
 * nothing that would reach the network on its own. Playwright gives every launch a
 * fresh, temporary profile (its own `--user-data-dir`; it refuses one in `args`).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..');

/** Where tests leave artifacts (screenshots); gitignored with the rest of .data/. */
export const ARTIFACTS_DIR = path.join(ROOT, '.data', 'artifacts');

export async function ensureChromium(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(ROOT, 'scripts/ensure-chromium.sh')], {
    timeout: 600_000,
  });
  return stdout.trim();
}

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = await ensureChromium();
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}
