import path from 'node:path';
import { Invalid } from '../errors.js';

/** API.md §5: the entry runs under its runtime; locally `.mjs`/`.js` with node, `.py` with python3. */
export function commandFor(entryFile: string): string[] {
  const ext = path.extname(entryFile);
  if (ext === '.mjs' || ext === '.js') return [process.execPath, entryFile];
  if (ext === '.py') return ['python3', entryFile];
  throw new Invalid(`runtime tf runs .mjs, .js or .py entries, not ${ext || 'a file without extension'}`);
}

/** Relative, inside the home, no `..` segments (API.md §5 Decision). */
export const ENTRY = '^[A-Za-z0-9._/-]{1,200}$';

export function checkEntry(entry: string): void {
  if (entry.startsWith('/') || entry.split('/').some((s) => s === '..' || s === '' || s === '.')) {
    throw new Invalid(`entry "${entry}" must be a relative path inside your home, without . or .. segments`);
  }
}
