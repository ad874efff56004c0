/**
 * The chat web app (docs/API.md "Web app") served at `GET /`: web/index.html,
 * web/app.css and the icon (web/icon.svg, also at /favicon.ico, where browsers look
 * when a page names none) as they are, and web/app.ts bundled with the client library
 * and markdown-it by esbuild (installed with tsx, a dev dependency) into one script, in
 * memory, once per process. The compiled release (`npm run build`) ships the four
 * files prebuilt in dist/web,
 * which is then this module's `web/`: they are served as they are, with no esbuild.
 * Nothing is loaded from other hosts: a Content-Security-Policy says so to the browser.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';

const WEB_DIR = path.join(__dirname, '..', 'web');

/** Only this origin, for everything; the WebSocket goes to the same host. */
const CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface Asset {
  type: string;
  body: string | Uint8Array;
}

/**
 * The web app's files, built once: `/` (index.html), `/app.js`, `/app.css`, `/icon.svg`;
 * read as they are when `webDir` holds a prebuilt app.js (the release), else bundled from app.ts.
 */
export async function buildWebApp(webDir: string = WEB_DIR): Promise<Map<string, Asset>> {
  const read = (file: string) => readFile(path.join(webDir, file), 'utf8');
  const prebuilt = existsSync(path.join(webDir, 'app.js')) && !existsSync(path.join(webDir, 'app.ts'));
  // esbuild is a dev dependency: imported only when the app is built here.
  const js = prebuilt ? await read('app.js') : await bundleApp(webDir);
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: await read('index.html') }],
    ['/app.js', { type: 'text/javascript; charset=utf-8', body: js }],
    ['/app.css', { type: 'text/css; charset=utf-8', body: await read('app.css') }],
    ['/icon.svg', { type: 'image/svg+xml', body: await read('icon.svg') }],
  ]);
}

/** web/app.ts and the client library as one minified browser script. */
async function bundleApp(webDir: string): Promise<Uint8Array> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(webDir, 'app.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: ['es2022'],
    platform: 'browser',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = result.outputFiles[0];
  if (!js) throw new Error('esbuild produced no output for web/app.ts');
  return js.contents;
}

/** Other names of the files. */
const ALIASES: Readonly<Record<string, string>> = { '/index.html': '/', '/favicon.ico': '/icon.svg' };

/** Routes serving the web app; the bundle is built on first use (or `ready()`). */
export function webAppRoutes(): { router: express.Router; ready(): Promise<unknown> } {
  let assets: Promise<Map<string, Asset>> | undefined;
  const load = () => (assets ??= buildWebApp());
  const router = express.Router();
  router.get(['/', '/index.html', '/app.js', '/app.css', '/icon.svg', '/favicon.ico'], async (req, res) => {
    const asset = (await load()).get(ALIASES[req.path] ?? req.path);
    if (!asset) return res.status(404).end();
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
    res.send(Buffer.from(asset.body));
  });
  return { router, ready: load };
}
