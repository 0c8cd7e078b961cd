import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The plugin author's docs send people to files: each one they link or name must exist. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCS = ['plugins/example/README.md', 'docs/plugin-ctx.md'];

describe('plugin docs', () => {
  it.each(DOCS)('%s names only files that exist', (doc) => {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    const missing: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (!/^[a-z]+:/.test(target) && !fs.existsSync(path.resolve(path.dirname(path.join(ROOT, doc)), target))) missing.push(target);
    }
    for (const [, named] of text.matchAll(/`((?:adapters|config|core|docs|plugin|plugins|test)\/[\w./-]+)`/g)) {
      if (!fs.existsSync(path.join(ROOT, named))) missing.push(named);
    }
    expect(missing).toEqual([]);
  });
});
