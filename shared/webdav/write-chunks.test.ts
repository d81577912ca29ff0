import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { writeChunks } from './write-chunks.js';

const chunk = (i: number, size = 1000): Buffer => Buffer.alloc(size, i % 251);

async function* chunksOf(n: number, size = 1000, pause?: () => Promise<void>): AsyncGenerator<Buffer> {
  for (let i = 0; i < n; i++) {
    if (pause) await pause();
    yield chunk(i, size);
  }
}

/** A file handle whose writev(2) takes `ms` and writes at most `most` bytes per call, recording each call. */
function slowFile(ms: number, most = Number.POSITIVE_INFINITY, fail?: number) {
  const calls: number[] = [];
  const written: Buffer[] = [];
  const handle = {
    async writev(buffers: Buffer[]) {
      calls.push(buffers.length);
      await new Promise((r) => setTimeout(r, ms));
      if (fail !== undefined && calls.length >= fail) throw new Error('EIO: disk gone');
      const all = Buffer.concat(buffers);
      const n = Math.min(all.length, most);
      written.push(all.subarray(0, n));
      return { bytesWritten: n, buffers };
    },
  };
  return { handle: handle as unknown as FileHandle, calls, written: () => Buffer.concat(written) };
}

t.test('a real file gets every chunk in order', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-write-chunks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = await open(path.join(dir, 'f'), 'w');
  await writeChunks(file, chunksOf(300, 4096));
  await file.close();
  const expected = Buffer.concat(Array.from({ length: 300 }, (_, i) => chunk(i, 4096)));
  t.ok(readFileSync(path.join(dir, 'f')).equals(expected));
});

t.test('chunks that arrive while a write is in flight go to disk together', async (t) => {
  const f = slowFile(20);
  await writeChunks(
    f.handle,
    chunksOf(200, 1000, () => new Promise((r) => setImmediate(r))),
  );
  t.ok(f.written().equals(Buffer.concat(Array.from({ length: 200 }, (_, i) => chunk(i)))), 'every byte, in order');
  t.ok(f.calls.length < 50, `200 chunks took ${f.calls.length} writes`);
  t.ok(Math.max(...f.calls) > 1, 'some write carried several chunks');
});

t.test('a short write is finished before the next', async (t) => {
  const f = slowFile(1, 1500);
  await writeChunks(f.handle, chunksOf(20));
  t.ok(f.written().equals(Buffer.concat(Array.from({ length: 20 }, (_, i) => chunk(i)))));
});

t.test('reading stops while more than the bound waits', async (t) => {
  const f = slowFile(15);
  let read = 0;
  let mostAhead = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 100; i++) {
      read++;
      mostAhead = Math.max(mostAhead, read * 1000 - f.written().length);
      yield chunk(i);
      await new Promise((r) => setImmediate(r));
    }
  }
  await writeChunks(f.handle, counted(), 5000);
  t.equal(f.written().length, 100 * 1000);
  // What waits (< bound + one chunk) plus what one write carries (the same).
  t.ok(mostAhead <= 2 * (5000 + 1000), `at most ${mostAhead} bytes read ahead of the disk`);
});

t.test('a failed write is thrown and no more is written', async (t) => {
  const f = slowFile(5, Number.POSITIVE_INFINITY, 2);
  await t.rejects(
    writeChunks(
      f.handle,
      chunksOf(100, 1000, () => new Promise((r) => setTimeout(r, 1))),
    ),
    /EIO/,
  );
  t.equal(f.calls.length, 2, 'no write after the failed one');
});
