import { open, type FileHandle } from 'node:fs/promises';

/**
 * An append-only file whose appends resolve only once they are on disk (fdatasync).
 * Appends that arrive while a sync runs are written together in the next one
 * (group commit), so durability costs one sync per batch, not per write.
 * Order is kept: a later append never resolves before an earlier one.
 */
export class AppendLog {
  private pending: { line: string; done: (err?: Error) => void }[] = [];
  private flushing = false;
  private closed = false;

  private constructor(private readonly file: FileHandle) {}

  static async open(path: string): Promise<AppendLog> {
    return new AppendLog(await open(path, 'a'));
  }

  append(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store log is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ line, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.file.write(
          batch
            .filter((p) => p.line !== '')
            .map((p) => `${p.line}\n`)
            .join(''),
        );
        await this.file.datasync();
        for (const p of batch) p.done();
      } catch (err) {
        for (const p of batch) p.done(err as Error);
      }
    }
    this.flushing = false;
  }

  /**
   * Resolves once every append made so far is on disk. Readers wait for it, so no answer is
   * built on a write that a crash could still lose (it costs nothing when nothing is pending).
   */
  settled(): Promise<void> {
    if (this.pending.length === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve) => {
      // An empty line is a no-op for the loader and keeps the order with earlier appends.
      this.pending.push({ line: '', done: () => resolve() });
      if (!this.flushing) void this.flush();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await new Promise((r) => setImmediate(r));
    await this.file.close();
  }
}
