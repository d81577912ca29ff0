import type { JobEnv } from './job-env.js';

/** An answer the platform refused (403 {msg}); not retried. */
export class Refused extends Error {}

/** How long faults are retried: a platform restart (seconds) must not end a job. */
export const OUTAGE_MS = 120_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

/** The wait before retry `attempt` (1, 2, …): doubling from 250 ms, at most 5 s. */
export const backoffMs = (attempt: number) => Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1));

/**
 * One JSON request to the platform with the job token. Faults (network, 5xx) are retried with
 * backoff for up to OUTAGE_MS, as a job outlives a gateway or platform restart; a 403 is the
 * platform's final word.
 */
export async function callPlatform(env: JobEnv, method: string, urlPath: string, body: unknown, outageMs = OUTAGE_MS): Promise<void> {
  let lastFault = '';
  const deadline = Date.now() + outageMs;
  for (let attempt = 1; ; attempt++) {
    let status = 0;
    let text = '';
    try {
      const res = await fetch(env.api + urlPath, {
        method,
        headers: { authorization: `Bearer ${env.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      lastFault = (err as Error).message;
    }
    if (status >= 200 && status < 300) return;
    if (status !== 0) {
      const msg = messageOf(text);
      if (status === 403) throw new Refused(`${method} ${urlPath} refused: ${msg}`);
      lastFault = `${status} ${msg}`;
    }
    const wait = backoffMs(attempt);
    if (Date.now() + wait > deadline) throw new Error(`${method} ${urlPath} failed after ${attempt} attempts in ${Math.round(outageMs / 1000)} s: ${lastFault}`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { msg?: unknown };
    if (typeof parsed.msg === 'string') return parsed.msg;
  } catch {
    // not JSON: the text itself says what happened
  }
  return text.slice(0, 200);
}
