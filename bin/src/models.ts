import type { Api } from './api.js';
import { waitSettled } from './wait.js';

interface Model {
  name: string;
  src: string;
  size: number;
  state: string;
  msg?: string;
}

const describe = (m: Model) => `${m.name.padEnd(20)} ${m.state.padEnd(9)} ${String(m.size).padStart(10)} bytes  from job ${m.src}${m.msg ? `  (${m.msg})` : ''}`;

/** Makes a model of a finished job's ckpt/ and, unless told not to, waits until it is ready. */
export async function create(client: Api, user: string, name: string, src: string, wait: boolean, print: (line: string) => void): Promise<void> {
  let m = await client.json<Model>('POST', `/api/v1/users/${user}/models`, { name, src });
  if (wait) m = await waitSettled(() => client.json<Model>('GET', `/api/v1/users/${user}/models/${name}`));
  print(describe(m));
  if (m.state === 'error') throw new Error(`model ${name} failed: ${m.msg ?? 'no reason given'}`);
}

export async function list(client: Api, user: string, print: (line: string) => void): Promise<void> {
  let shown = 0;
  for await (const page of client.pages<Model>(`/api/v1/users/${user}/models`)) {
    for (const m of page) print(describe(m));
    shown += page.length;
  }
  if (shown === 0) print('no models');
}

export async function remove(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  const m = await client.json<Model>('DELETE', `/api/v1/users/${user}/models/${name}`);
  print(`model ${m.name} is ${m.state}`);
}
