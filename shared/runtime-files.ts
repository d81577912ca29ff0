import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformNodeModules } from '../templates/runtime-tf/command.js';

/**
 * What a sandboxed workload of the platform's own code reads besides the system's programs: the
 * named templates' files (templates/runtime-tf, or dist/templates/runtime-tf, …), and what node's
 * resolution looks at from there — each node_modules and package.json up the tree (tfjs, tsx;
 * "type": "module") — at their paths and, where a link leads elsewhere, at their real paths too.
 * Not the rest of the checkout.
 */
export function runtimeFiles(...templates: string[]): string[] {
  const dirs = templates.map((t) => fileURLToPath(new URL(`../templates/${t}/`, import.meta.url)));
  const found = new Set([...dirs, platformNodeModules()]);
  for (let dir = path.resolve(dirs[0] ?? '.'); ; dir = path.dirname(dir)) {
    for (const name of ['node_modules', 'package.json']) if (existsSync(path.join(dir, name))) found.add(path.join(dir, name));
    if (dir === path.dirname(dir)) break;
  }
  return [...found].flatMap((p) => {
    const real = realpathSync(p);
    return real === path.resolve(p) ? [p] : [p, real];
  });
}
