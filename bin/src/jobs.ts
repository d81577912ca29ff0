import { queueWords } from '../../shared/format/wait.js';
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
  queue?: { position: number; eta_s: number | null };
  retries?: number;
  attempt?: number;
}

export interface SubmitOptions {
  entry: string;
  runtime?: string;
  cpu?: number;
  gpu?: number;
  ram?: number;
  retries?: number;
}

/** One line per job; a waiting one says its place in the queue and the estimated wait. */
export const describe = (j: Job): string =>
  `${j.name.padEnd(20)} ${j.state.padEnd(9)} ${String(j.progress).padStart(3)}%  cpu ${j.cpu} gpu ${j.gpu} ram ${j.ram}  ${j.entry}${j.retries ? `  attempt ${j.attempt ?? 0}/${j.retries + 1}` : ''}${j.queue ? `  [${queueWords(j.queue)}]` : ''}${j.msg ? `  (${j.msg})` : ''}`;

export async function submit(client: Api, user: string, name: string, opts: SubmitOptions, print: (line: string) => void): Promise<void> {
  const body = {
    name,
    entry: opts.entry,
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
    ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
    ...(opts.gpu !== undefined ? { gpu: opts.gpu } : {}),
    ...(opts.ram !== undefined ? { ram: opts.ram } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
  };
  print(describe(await client.json<Job>('POST', `/api/v1/users/${user}/jobs`, body)));
}

export async function list(client: Api, user: string, print: (line: string) => void): Promise<void> {
  let shown = 0;
  for await (const page of client.pages<Job>(`/api/v1/users/${user}/jobs`)) {
    for (const j of page) print(describe(j));
    shown += page.length;
  }
  if (shown === 0) print('no jobs');
}

/** The job's output; with follow, it streams until the job ends. */
export async function logs(client: Api, user: string, name: string, follow: boolean, write: (text: string) => void): Promise<void> {
  const res = await client.dav('GET', `/api/v1/users/${user}/jobs/${name}/log${follow ? '?follow=1' : ''}`);
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) write(decoder.decode(chunk, { stream: true }));
}

interface Metric {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

const line = (m: Metric) => `epoch ${String(m.epoch).padStart(4)}  accuracy ${m.accuracy.toFixed(4)}  loss ${m.loss.toFixed(4)}  progress ${m.progress}%`;

/** The job's metrics; with follow, a WebSocket prints each new one until the job ends. */
export async function metrics(client: Api, url: string, token: string, user: string, name: string, follow: boolean, print: (l: string) => void): Promise<void> {
  if (!follow) {
    const all = await client.json<Metric[]>('GET', `/api/v1/users/${user}/job_metrics/${name}`);
    if (all.length === 0) print('no metrics yet');
    for (const m of all) print(line(m));
    return;
  }
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/users/${user}/job_metrics/${name}?token=${encodeURIComponent(token)}`);
  await new Promise<void>((resolve, reject) => {
    // The relay pushes the history, then each new metric; progress 100 or -1 means the job ended.
    const ended = setInterval(() => {
      client.json<Job>('GET', `/api/v1/users/${user}/jobs/${name}`).then(
        (j) => (j.state === 'finished' || j.state === 'error') && ws.close(),
        (err: unknown) => {
          ws.close();
          reject(err as Error);
        },
      );
    }, 2000);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Metric;
      print(line(m));
      if (m.progress === 100 || m.progress === -1) ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearInterval(ended);
      reject(new Error(`the metrics socket was refused (${res.statusCode})`));
    });
    ws.once('error', (err) => {
      clearInterval(ended);
      reject(err);
    });
    ws.once('close', () => {
      clearInterval(ended);
      resolve();
    });
  });
  // The last metric comes just before the process exits: wait until the job has ended, so the
  // next command (e.g. `model create`) finds it finished.
  for (let i = 0; i < 120; i++) {
    const j = await client.json<Job>('GET', `/api/v1/users/${user}/jobs/${name}`);
    if (j.state !== 'creating' && j.state !== 'running') return print(`job ${name} is ${j.state}${j.msg ? ` (${j.msg})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function stop(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  print(describe(await client.json<Job>('PUT', `/api/v1/users/${user}/jobs/${name}:stop`, {})));
}

export async function remove(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  const j = await client.json<Job>('DELETE', `/api/v1/users/${user}/jobs/${name}`);
  print(`job ${j.name} is ${j.state}`);
}
