import { answer, authHeader, type Session } from './api.js';

const MAX_CHARS = 200_000;

/** A job's log, followed while the job runs (?follow=1 streams until it ends; docs/api.md#jobs). */
export class LogView {
  readonly el: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly status: HTMLElement;
  private abort: AbortController | undefined;

  constructor() {
    this.pre = document.createElement('pre');
    this.pre.className = 'log';
    this.pre.tabIndex = 0;
    this.status = document.createElement('p');
    this.status.className = 'chart-status';
    this.status.setAttribute('aria-live', 'polite');
    this.el = document.createElement('div');
    this.el.append(this.status, this.pre);
  }

  async follow(session: Session, job: string): Promise<void> {
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    this.pre.textContent = '';
    this.pre.setAttribute('aria-label', `log of job ${job}`);
    this.el.dataset.job = job;
    this.say(`following the log of ${job}…`, 'following');
    try {
      const res = await fetch(`/api/v1/users/${encodeURIComponent(session.user)}/jobs/${encodeURIComponent(job)}/log?follow=1`, {
        headers: authHeader(session),
        signal: abort.signal,
        cache: 'no-store',
      });
      if (!res.ok || !res.body) await answer(res);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.write(decoder.decode(value, { stream: true }));
      }
      this.write(decoder.decode());
      if (this.abort === abort) this.say(`the log of ${job} is complete`, 'ended');
    } catch (err) {
      if (abort.signal.aborted) return;
      this.say(`log of ${job}: ${(err as Error).message}`, 'error');
    }
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
  }

  private write(text: string): void {
    if (!text) return;
    const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 8;
    const all = (this.pre.textContent ?? '') + text;
    this.pre.textContent = all.length > MAX_CHARS ? all.slice(all.length - MAX_CHARS) : all;
    if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
  }

  private say(text: string, state: string): void {
    this.status.textContent = text;
    this.el.dataset.state = state;
  }
}
