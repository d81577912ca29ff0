import type { TestPlatform } from './platform.js';

// What the attack tests of test/security/ share: users with tokens, a job script run to its end,
// and the RESULT lines an attacking script prints (one JSON attempt each).

export interface Attempt {
  what: string;
  ok: boolean;
  value?: string;
  code?: string;
}

export async function users(p: TestPlatform, names: string[]): Promise<Record<string, string>> {
  const tokens: Record<string, string> = {};
  for (const name of names) {
    await p.call('POST', '/api/v1/users', { body: { username: name, password: `${name}-password` } });
    tokens[name] = (await p.call('GET', `/api/v1/users/${name}/token`, { basic: [name, `${name}-password`] })).json as string;
  }
  return tokens;
}

/** Submits `{name}.mjs` from the user's home and waits for the job to end; its state, msg and log. */
export async function runJob(p: TestPlatform, token: string, user: string, name: string, extra: Record<string, unknown> = {}): Promise<{ state: string; msg?: string; log: string }> {
  const submitted = await p.call('POST', `/api/v1/users/${user}/jobs`, { token, body: { name, entry: `${name}.mjs`, ...extra } });
  if (submitted.status !== 201) throw new Error(`submit ${name}: ${submitted.status} ${submitted.text}`);
  for (let i = 0; i < 600; i++) {
    await p.call('POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken });
    const job = (await p.call('GET', `/api/v1/users/${user}/jobs/${name}`, { token })).json as { state: string; msg?: string };
    if (job.state === 'finished' || job.state === 'error') {
      const log = (await p.call('GET', `/api/v1/users/${user}/jobs/${name}/log`, { token })).text;
      return { state: job.state, msg: job.msg, log };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${name} never ended`);
}

export function results(log: string): Map<string, Attempt> {
  const out = new Map<string, Attempt>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('RESULT ')) continue;
    const a = JSON.parse(line.slice('RESULT '.length)) as Attempt;
    out.set(a.what, a);
  }
  return out;
}
