/**
 * Builds the web app (web/ + client/, api/static.ts) and writes it to a folder:
 *   node --import tsx scripts/build-web.ts [outDir]     (default dist/web)
 * The API builds the same files in memory when it starts serving them; the image build
 * runs this so a broken web app fails the build, not the first visitor.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildWebApp } from '../api/static';

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist', 'web'));
  await mkdir(outDir, { recursive: true });
  for (const [route, asset] of await buildWebApp()) {
    const file = path.join(outDir, route === '/' ? 'index.html' : route.slice(1));
    await writeFile(file, asset.body);
    process.stdout.write(`${path.relative(process.cwd(), file)}  ${asset.body.length} bytes\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`web app build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
