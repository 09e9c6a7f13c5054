/**
 * `npm run docs` as CI would run it: TypeDoc with the project's typedoc.json (warnings are errors
 * there) into a temporary directory, then the site is read: modules named by their import paths,
 * one title on the index page, and every README and guide link opening a rendered page.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let out: string;
let log: string;

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), 'model-rollout-api-'));
  const typedoc = path.join(ROOT, 'node_modules/typedoc/bin/typedoc');
  // Exits non-zero on any warning: typedoc.json sets treatWarningsAsErrors.
  const { stdout, stderr } = await run(process.execPath, [typedoc, '--out', out], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  log = stdout + stderr;
}, 240_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

function page(file: string): string {
  return readFileSync(path.join(out, file), 'utf8');
}

function text(html: string): string {
  return html.replace(/<[^>]+>/g, '').trim();
}

describe('the API site', () => {
  it('builds with no warning', () => {
    expect(log).not.toMatch(/\[warning\]/);
  });

  it('names the modules by their import paths', () => {
    const names = [...page('modules.html').matchAll(/<a href="modules\/[^"]+"[^>]*>(.*?)<\/a>/g)].map((m) => text(m[1]!));
    expect(new Set(names)).toEqual(new Set(['model-rollout', 'model-rollout/testing']));
  });

  it('shows the title once on the index page', () => {
    const titles = [...page('index.html').matchAll(/<h1[^>]*>(.*?)<\/h1>/g)].map((m) => text(m[1]!));
    expect(titles).toEqual(['model-rollout']);
  });

  it('renders the guides and links the README and the guides to those pages, never to raw markdown', () => {
    const documents = readdirSync(path.join(out, 'documents'));
    expect(documents).toEqual(expect.arrayContaining(['canary.html', 'monitoring.html', 'ab-testing.html']));
    for (const file of ['index.html', ...documents.map((d) => `documents/${d}`)]) {
      const hrefs = [...page(file).matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
      expect(hrefs.filter((h) => /\.md(#|$)/.test(h)), file).toEqual([]);
      for (const href of hrefs.filter((h) => h.includes('documents/') && !/^[a-z]+:/.test(h))) {
        expect(existsSync(path.join(out, path.dirname(file), href.split('#')[0]!)), `${file} → ${href}`).toBe(true);
      }
    }
  });
});
