import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

// Every relative link of README.md, CHANGELOG.md and docs/*.md resolves inside the repository:
// the file exists and, for a Markdown file, the #anchor is one of its headings (as GitHub makes
// anchors: lower case, punctuation dropped, spaces as '-').
const ROOT = path.resolve(import.meta.dirname, '../..');
const FILES = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

function anchors(markdown: string): Set<string> {
  let fence = false;
  const out = new Set<string>();
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    if (fence || !/^#{1,6} /.test(line)) continue;
    out.add(
      line
        .replace(/^#+ /, '')
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return out;
}

for (const file of FILES) {
  t.test(file, async (t) => {
    const text = readFileSync(path.join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
      const [rel, anchor] = target.split('#') as [string, string | undefined];
      const resolved = rel === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), rel);
      t.ok(existsSync(resolved), `${file}: ${target} exists`);
      if (anchor && resolved.endsWith('.md') && existsSync(resolved)) {
        t.ok(anchors(readFileSync(resolved, 'utf8')).has(anchor), `${file}: #${anchor} is a heading of ${path.relative(ROOT, resolved)}`);
      }
    }
  });
}
