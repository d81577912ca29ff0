import type { Api } from './api.js';

interface Job {
  name: string;
  entry: string;
  state: string;
  progress: number;
  cpu: number;
  gpu: number;
  ram: number;
  msg?: string;
}

export interface SubmitOptions {
  entry: string;
  cpu?: number;
  gpu?: number;
  ram?: number;
}

const describe = (j: Job) => `${j.name.padEnd(20)} ${j.state.padEnd(9)} ${String(j.progress).padStart(3)}%  cpu ${j.cpu} gpu ${j.gpu} ram ${j.ram}  ${j.entry}${j.msg ? `  (${j.msg})` : ''}`;

export async function submit(client: Api, user: string, name: string, opts: SubmitOptions, print: (line: string) => void): Promise<void> {
  const body = { name, entry: opts.entry, ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}), ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}), ...(opts.ram !== undefined ? { ram: opts.ram } : {}) };
  print(describe(await client.json<Job>('POST', `/api/v1/users/${user}/jobs`, body)));
}

export async function list(client: Api, user: string, print: (line: string) => void): Promise<void> {
  const jobs = await client.json<Job[]>('GET', `/api/v1/users/${user}/jobs`);
  if (jobs.length === 0) return print('no jobs');
  for (const j of jobs) print(describe(j));
}

export async function logs(client: Api, user: string, name: string, write: (text: string) => void): Promise<void> {
  const res = await client.dav('GET', `/api/v1/users/${user}/jobs/${name}/log`);
  write(await res.text());
}

export async function stop(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  print(describe(await client.json<Job>('PUT', `/api/v1/users/${user}/jobs/${name}:stop`, {})));
}

export async function remove(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  const j = await client.json<Job>('DELETE', `/api/v1/users/${user}/jobs/${name}`);
  print(`job ${j.name} is ${j.state}`);
}
