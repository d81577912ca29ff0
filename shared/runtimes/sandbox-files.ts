import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * What a sandboxed workload of the platform's own code reads besides the system's programs: what
 * its runtime says it reads (shared/runtimes/port.ts: its template's folders, or
 * dist/templates/…, and the platform's node_modules), and what node's resolution looks at from
 * the first of them — each node_modules and package.json up the tree (tfjs, tsx; "type":
 * "module") — at their paths and, where a link leads elsewhere, at their real paths too. Not the
 * rest of the checkout.
 */
export function runtimeFiles(reads: string[]): string[] {
  const found = new Set(reads);
  for (let dir = path.resolve(reads[0] ?? '.'); ; dir = path.dirname(dir)) {
    for (const name of ['node_modules', 'package.json']) if (existsSync(path.join(dir, name))) found.add(path.join(dir, name));
    if (dir === path.dirname(dir)) break;
  }
  return [...found].flatMap((p) => {
    const real = realpathSync(p);
    return real === path.resolve(p) ? [p] : [p, real];
  });
}
