import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PageFile {
  body: Buffer;
  contentType: string;
}

/** The console's files by the name they are served under: the page, then `/console/assets/<name>`. */
export interface PageFiles {
  page: PageFile;
  assets: ReadonlyMap<string, PageFile>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Served as assets: the page's own modules, styles and icon, by plain names (no path can be asked for). */
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(?:js|css|svg)$/;

/**
 * The package root (where package.json is): src/console/ when run from the sources,
 * dist/src/console/ when compiled, so the folder is found rather than assumed.
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the console cannot find the package root (package.json)');
    dir = parent;
  }
  return dir;
}

/**
 * Reads the console once: `console/` at the package root (index.html, its modules and styles,
 * served as they are: no build step) and uPlot's browser build from its npm package. A few
 * hundred KiB held in memory, so serving them reads no disk.
 */
export function loadPageFiles(): PageFiles {
  const folder = join(packageRoot(), 'console');
  const read = (path: string): PageFile => ({
    body: readFileSync(path),
    contentType: CONTENT_TYPES[extname(path)]!,
  });
  const assets = new Map<string, PageFile>();
  for (const name of readdirSync(folder)) {
    if (ASSET_NAME.test(name)) assets.set(name, read(join(folder, name)));
  }
  // uPlot's IIFE build defines the global `uPlot` the page's modules use; its own stylesheet with it.
  const require = createRequire(import.meta.url);
  assets.set('uplot.js', read(require.resolve('uplot/dist/uPlot.iife.min.js')));
  assets.set('uplot.css', read(require.resolve('uplot/dist/uPlot.min.css')));
  return { page: read(join(folder, 'index.html')), assets };
}
