import type { Test } from 'tap';
import type { JobMetrics as Metric } from '../../../shared/metrics/store.js';
import { insertJob } from '../../helpers/job-record.js';
import { openMetricsSocket, type MetricsSocket } from '../../helpers/metrics-socket.js';
import { call } from '../../helpers/platform.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#job-metrics at volume: 100,000 metrics of 100 running jobs (10 users of 10 jobs: a
// user opens at most 16 sockets, shared/http/upgrade.ts) published on the bus as training scripts
// publish them, each job's through the real relay to its own socket. Every socket gets exactly its
// job's metrics, in epoch order, none missing, none twice, none of another job.

const USERS = 10;
const JOBS_PER_USER = 10;
const EPOCHS = 1000;
/**
 * Published in rounds of this many epochs per job (10,000 metrics a round), the next once every
 * socket has the round: the relay keeps at most 50,000 waiting (shared/metrics/bounds.ts) and
 * drops past that by design, which is not what this checks.
 */
const ROUND = 100;

interface Job {
  user: string;
  name: string;
  uid: string;
  /** Its index, carried in every metric's accuracy: a metric of another job shows. */
  index: number;
  socket: MetricsSocket<Metric>;
}

/** The metric a job's script publishes for an epoch; the last one (epoch EPOCHS) says the job ended. */
const metricOf = (job: Pick<Job, 'user' | 'name' | 'index'>, epoch: number): Metric => ({
  user: job.user,
  name: job.name,
  epoch,
  accuracy: job.index,
  loss: epoch / EPOCHS,
  progress: epoch === EPOCHS ? 100 : Math.floor((100 * epoch) / (EPOCHS + 1)),
});

export async function metricsVolumeScenario(t: Test, p: Target): Promise<void> {
  const jobs: Job[] = [];
  for (let u = 0; u < USERS; u++) {
    // Names are letters only (docs/api.md): vola … volj.
    const user = `vol${String.fromCharCode(97 + u)}`;
    const made = await call(p.url, 'POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    t.equal(made.status, 201, `user ${user}: ${made.text}`);
    const token = (await call(p.url, 'GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
    for (let j = 0; j < JOBS_PER_USER; j++) {
      const name = `job${String.fromCharCode(97 + j)}`;
      const uid = `vol-${u}-${j}`;
      // The job's record, as ended (no reconciler launches or fails it): the socket needs the job to
      // exist; what the relay accepts metrics for is its run, begun as the job lifecycle begins it.
      await insertJob(p.store, user, name, { uid, entry: 'x.mjs', progress: 0 });
      const begun = await p.call('PUT', `/api/v1/users/${user}/job_metrics/${name}:begin`, { token: p.serviceToken, body: { job_id: uid } });
      t.equal(begun.status, 200, `${user}/${name} begun`);
      const socket = await openMetricsSocket<Metric>(`${p.url.replace('http', 'ws')}/api/v1/users/${user}/job_metrics/${name}?token=${token}`);
      t.teardown(() => socket.ws.terminate());
      jobs.push({ user, name, uid, index: jobs.length, socket });
    }
  }

  const publish = async (from: number, to: number) => {
    for (const job of jobs) {
      const messages = [];
      for (let epoch = from; epoch < to; epoch++) messages.push({ key: `${job.user}/${job.name}`, value: JSON.stringify(metricOf(job, epoch)), headers: { 'mlp-job-id': job.uid } });
      await p.bus.publish(p.metricsTopic, messages);
    }
    for (const job of jobs) await job.socket.until(to);
  };
  for (let from = 0; from < EPOCHS; from += ROUND) await publish(from, Math.min(EPOCHS, from + ROUND));
  // One more each, the last (progress 100): whatever a socket got twice or of another job came before it.
  await publish(EPOCHS, EPOCHS + 1);

  let exact = 0;
  for (const job of jobs) {
    const want = Array.from({ length: EPOCHS + 1 }, (_, epoch) => metricOf(job, epoch));
    const got = job.socket.got;
    if (got.length === want.length && got.every((m, i) => JSON.stringify(m) === JSON.stringify(want[i]))) exact++;
    else {
      const at = want.findIndex((m, i) => JSON.stringify(got[i]) !== JSON.stringify(m));
      t.fail(`${job.user}/${job.name}: ${got.length} messages for ${want.length}; first difference at ${at}`, { got: got[at], want: want[at] });
    }
  }
  t.equal(exact, jobs.length, `each of the ${jobs.length} sockets got exactly its job's ${EPOCHS + 1} metrics, in order, once each`);
  t.equal(
    jobs.reduce((n, job) => n + job.socket.got.length, 0),
    jobs.length * (EPOCHS + 1),
    'messages in all: as many as published',
  );

  // And the store holds every point once: the first and last job of the volume, listed.
  for (const job of [jobs[0], jobs.at(-1)]) {
    if (!job) continue;
    const token = (await call(p.url, 'GET', `/api/v1/users/${job.user}/token`, { basic: [job.user, 'password1'] })).json as string;
    const listed = (await call(p.url, 'GET', `/api/v1/users/${job.user}/job_metrics/${job.name}`, { token })).json as Metric[];
    t.same(
      listed.map((m) => m.epoch),
      Array.from({ length: EPOCHS + 1 }, (_, epoch) => epoch),
      `${job.user}/${job.name}: every epoch stored once`,
    );
  }
}
