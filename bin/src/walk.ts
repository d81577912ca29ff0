import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface LocalFile {
  /** Path relative to the folder, with / separators. */
  rel: string;
  abs: string;
  size: number;
}

/** Every regular file under `dir`, sorted by path. */
export async function localFiles(dir: string): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const visit = async (abs: string, rel: string) => {
    for (const entry of (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await visit(childAbs, childRel);
      else if (entry.isFile()) out.push({ rel: childRel, abs: childAbs, size: (await stat(childAbs)).size });
    }
  };
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a folder`);
  await visit(dir, '');
  return out;
}
