import { constants } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { Forbidden } from '../core/errors.js';
import { copyIn } from './copy.js';
import { lstatIn, openFileIn, openIn, openUnder, removeIn, type Folder } from './confined.js';

/**
 * Dead properties (RFC 4918 §4, PROPPATCH) of the files and folders under /data, kept in a sidecar
 * under MLP_ROOT/tmp/webdav-props — outside every folder a client lists or a job sees, so no
 * property is ever counted, listed or downloadable, and no job can plant a link in it. Its tree
 * mirrors the resources: MLP_ROOT/tmp/webdav-props/{user}/{key}/{path segments…}/@props.json,
 * where {key} is `home` or `dataset-{uid}` (a dataset made again under the same name never sees
 * the old one's properties). The sidecar's own names start with `@`; resource names may start
 * with `@` as well, so a resource named exactly `@props.json` (or `@tmp-…`) would meet them: such
 * names are not yet escaped here. Every access goes through confined.ts (links
 * never followed); a DELETE, MOVE or COPY of a resource takes its properties along. The XML
 * they are read from and written as (PROPPATCH, PROPFIND) is deadprops-xml.ts's.
 */
const BASE = ['tmp', 'webdav-props'];
const FILE = '@props.json';

/** Bounds per resource: properties, and bytes of a name, a namespace and a value (403 {msg} beyond). */
export const MAX_PROPS = 32;
export const MAX_NAME = 200;
export const MAX_NAMESPACE = 500;
export const MAX_VALUE = 4096;
/** Bytes of all the dead properties of one home or dataset (what its files are, the bytes of its sizes or quota). */
export const MAX_TOTAL = 8 * 1024 * 1024;
/** The largest PROPPATCH or PROPFIND body read (MAX_PROPS values and their markup fit). */
export const MAX_BODY = 256 * 1024;

export interface DeadProp {
  ns: string;
  name: string;
  /** The value as XML content that stands on its own (xml.ts serializeContent). */
  xml: string;
}

export interface PropName {
  ns: string;
  name: string;
}

export type PropUpdate = ({ op: 'set' } & DeadProp) | ({ op: 'remove' } & PropName);

const KEY = /^[A-Za-z0-9._-]{1,100}$/;

/** The sidecar of one user's home or dataset. */
export class PropStore {
  private readonly base: string[];

  constructor(
    private readonly storageRoot: string,
    user: string,
    key: string,
  ) {
    if (!KEY.test(user) || !KEY.test(key) || key.startsWith('.')) throw new Error(`no property store for ${user}/${key}`);
    this.base = [...BASE, user, key];
  }

  static home(storageRoot: string, user: string): PropStore {
    return new PropStore(storageRoot, user, 'home');
  }

  static dataset(storageRoot: string, user: string, uid: string): PropStore {
    return new PropStore(storageRoot, user, `dataset-${uid.replace(/[^A-Za-z0-9_-]/g, '_')}`);
  }

  private node(parts: string[], create: boolean): Promise<Folder | null> {
    return openUnder(this.storageRoot, [...this.base, ...parts], create);
  }

  /** Whether this home or dataset has a sidecar yet. */
  async exists(): Promise<boolean> {
    const node = await this.node([], false);
    await node?.close();
    return node !== null;
  }

  /** The dead properties of the resource at `parts` ([] for the dataset or home itself). */
  async read(parts: string[]): Promise<DeadProp[]> {
    const node = await this.node(parts, false);
    if (!node) return [];
    try {
      return await readFileOf(node);
    } finally {
      await node.close();
    }
  }

  /** The dead properties of each child of the folder at `parts` that has any, by name. */
  async readChildren(parts: string[]): Promise<Map<string, DeadProp[]>> {
    const out = new Map<string, DeadProp[]>();
    const node = await this.node(parts, false);
    if (!node) return out;
    try {
      for (const name of await readdir(node.at())) {
        if (name === FILE) continue;
        const child = await openIn(node, [name], false).catch(() => null);
        if (!child) continue;
        try {
          const props = await readFileOf(child);
          if (props.length) out.set(name, props);
        } finally {
          await child.close();
        }
      }
    } finally {
      await node.close();
    }
    return out;
  }

  /**
   * Applies `updates` in order, all or nothing (RFC 4918 §9.2), within the bounds. With
   * `resources` (the home's or dataset's folder), the properties of files and folders that are
   * gone (a job removed them) are forgotten first, and the total is bounded by MAX_TOTAL.
   */
  async update(parts: string[], updates: PropUpdate[], resources?: Folder): Promise<void> {
    const before = await this.read(parts);
    const props = new Map(before.map((p) => [`${p.ns}\n${p.name}`, p]));
    for (const u of updates) {
      const id = `${u.ns}\n${u.name}`;
      if (u.op === 'remove') props.delete(id);
      else props.set(id, { ns: u.ns, name: u.name, xml: u.xml });
    }
    if (props.size > MAX_PROPS) throw new Forbidden(`at most ${MAX_PROPS} dead properties per file or folder; this would make ${props.size}`);
    const text = JSON.stringify([...props.values()]);
    if (resources) {
      const total = (await this.prune(resources)) - Buffer.byteLength(JSON.stringify(before)) + Buffer.byteLength(text);
      if (props.size > 0 && total > MAX_TOTAL) throw new Forbidden(`the dead properties of one dataset or home are at most ${MAX_TOTAL} bytes; this would make ${total}`);
    }
    const node = await this.node(parts, props.size > 0);
    if (!node) return;
    try {
      if (props.size === 0) return await unlink(node.at(FILE)).catch(ignoreMissing);
      const temp = `@tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      const file = await open(node.at(temp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await file.writeFile(text);
      } finally {
        await file.close();
      }
      await rename(node.at(temp), node.at(FILE));
    } finally {
      await node.close();
    }
  }

  /**
   * Forgets the properties of files and folders no longer in `resources` (the home's or dataset's
   * folder, walked beside the sidecar, links never followed); answers the bytes of those left.
   */
  async prune(resources: Folder): Promise<number> {
    const node = await this.node([], false);
    if (!node) return 0;
    const visit = async (props: Folder, res: Folder | null): Promise<number> => {
      let bytes = 0;
      for (const name of await readdir(props.at())) {
        if (name === FILE) {
          bytes += (await lstatIn(props, name))?.size ?? 0;
          continue;
        }
        if (name.startsWith('@')) continue;
        const s = res ? await lstatIn(res, name) : null;
        if (!s || !(s.isFile() || s.isDirectory())) {
          await removeIn(props, name);
          continue;
        }
        const sub = await openIn(props, [name], false).catch(() => null);
        if (!sub) continue;
        const child = s.isDirectory() && res ? await openIn(res, [name], false).catch(() => null) : null;
        try {
          if (s.isFile()) {
            // A file has no children: only its own properties stay.
            for (const inner of await readdir(sub.at())) if (inner !== FILE) await removeIn(sub, inner);
            bytes += (await lstatIn(sub, FILE))?.size ?? 0;
          } else bytes += await visit(sub, child);
        } finally {
          await sub.close();
          await child?.close();
        }
      }
      return bytes;
    };
    try {
      return await visit(node, resources);
    } finally {
      await node.close();
    }
  }

  /** Forgets the properties of the resource at `parts` and of everything below it ([]: all of them). */
  async drop(parts: string[]): Promise<void> {
    const at = parts.length ? parts : this.base;
    const parent = await openUnder(this.storageRoot, parts.length ? [...this.base, ...parts.slice(0, -1)] : this.base.slice(0, -1), false);
    if (!parent) return;
    try {
      await removeIn(parent, at[at.length - 1] ?? '');
    } finally {
      await parent.close();
    }
  }

  /** MOVE: the properties of `from` (and below) become those of `to`, whose own go. */
  async move(from: string[], to: string[]): Promise<void> {
    await this.drop(to);
    const src = await this.node(from.slice(0, -1), false);
    if (!src) return;
    try {
      const name = from[from.length - 1] ?? '';
      if (!(await lstatIn(src, name))) return;
      const dst = await this.node(to.slice(0, -1), true);
      if (!dst) return;
      try {
        await rename(src.at(name), dst.at(to[to.length - 1] ?? ''));
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  }

  /** COPY: `to` gets the properties of `from` (and, when `deep`, those below it too); its own go. */
  async copy(from: string[], to: string[], deep: boolean): Promise<void> {
    await this.drop(to);
    if (!deep) {
      const props = await this.read(from);
      if (props.length)
        await this.update(
          to,
          props.map((p) => ({ op: 'set' as const, ...p })),
        );
      return;
    }
    const src = await this.node(from.slice(0, -1), false);
    if (!src) return;
    try {
      const name = from[from.length - 1] ?? '';
      if (!(await lstatIn(src, name))) return;
      const dst = await this.node(to.slice(0, -1), true);
      if (!dst) return;
      try {
        await copyIn(src, name, dst, to[to.length - 1] ?? '', true);
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  }
}

/**
 * Removes the property stores of `user`'s datasets that no longer exist (a dataset deleted through
 * the API takes its files, not this sidecar, along); `keep` holds the uids of those that exist.
 */
export async function sweepDatasets(storageRoot: string, user: string, keep: string[]): Promise<void> {
  const folder = await openUnder(storageRoot, [...BASE, user], false);
  if (!folder) return;
  const wanted = new Set(keep.map((uid) => `dataset-${uid.replace(/[^A-Za-z0-9_-]/g, '_')}`));
  try {
    for (const name of await readdir(folder.at())) if (name.startsWith('dataset-') && !wanted.has(name)) await removeIn(folder, name);
  } finally {
    await folder.close();
  }
}

async function readFileOf(node: Folder): Promise<DeadProp[]> {
  const file = await openFileIn(node, FILE);
  if (!file) return [];
  try {
    const value: unknown = JSON.parse(await file.handle.readFile('utf8'));
    return Array.isArray(value) ? (value as DeadProp[]) : [];
  } finally {
    await file.handle.close();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
