import type { JobEnv } from './job-env.js';

/** An answer the platform refused (403 {msg}); not retried. */
export class Refused extends Error {}

const ATTEMPTS = 4;

/**
 * One JSON request to the platform with the job token. Faults (network, 503) are retried with
 * backoff, as a job outlives a gateway restart; a 403 is the platform's final word.
 */
export async function callPlatform(env: JobEnv, method: string, urlPath: string, body: unknown): Promise<void> {
  let lastFault = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
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
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
  }
  throw new Error(`${method} ${urlPath} failed after ${ATTEMPTS} attempts: ${lastFault}`);
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
