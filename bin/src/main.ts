import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { api, encodePath } from './api.js';
import * as apps from './apps.js';
import { guessedAppUrl, loadClientConfig, saveClientConfig } from './config.js';
import { download, list, remove, upload } from './datasets.js';
import * as jobs from './jobs.js';
import * as models from './models.js';
import { registerSweep } from './sweeps.js';

// docs/api.md#data-client: the `mlp` data client. It talks only to the gateway; a refusal or fault prints
// the server's msg and exits non-zero.
const print = (line: string) => process.stdout.write(`${line}\n`);
const trim = (url: string) => url.replace(/\/+$/, '');
const session = async () => {
  const config = await loadClientConfig();
  // Apps are called at the endpoint the platform gives them, unless an app gateway was named.
  const override = process.env.MLP_APP_URL || config.appGateway;
  const gw: apps.AppGateway = { ...(override ? { override: trim(override) } : {}), fallback: guessedAppUrl(config.url) };
  return { config, client: api(config), gw };
};

const program = new Command('mlp').description('MLP command-line client').showHelpAfterError();

program
  .command('login')
  .description('log in and keep the token in ~/.config/mlp/config.json')
  .requiredOption('--url <url>', 'gateway URL, e.g. http://127.0.0.1:30001')
  .requiredOption('--user <name>', 'your username')
  .option('--password <password>', 'your password (default: $MLP_PASSWORD)')
  .option('--app-url <url>', 'app gateway URL to use instead of the endpoint the platform gives each app')
  .action(async (opts: { url: string; user: string; password?: string; appUrl?: string }) => {
    const password = opts.password ?? process.env.MLP_PASSWORD;
    if (!password) throw new Error('give --password or set MLP_PASSWORD');
    const url = trim(opts.url);
    const res = await fetch(`${url}/api/v1/users/${opts.user}/token`, { headers: { authorization: `Basic ${Buffer.from(`${opts.user}:${password}`).toString('base64')}` } });
    const body = (await res.json()) as string | { msg: string };
    if (!res.ok || typeof body !== 'string') throw new Error(typeof body === 'string' ? body : body.msg);
    await saveClientConfig({ url, ...(opts.appUrl ? { appGateway: trim(opts.appUrl) } : {}), user: opts.user, token: body });
    print(`logged in to ${url} as ${opts.user}`);
  });

const dataset = program.command('dataset').description('datasets: upload, download, ls, rm');
dataset
  .command('upload <dir>')
  .description('create a dataset from a folder and upload it (re-running resumes)')
  .requiredOption('--name <name>', 'dataset name')
  .option('--quiet', 'no progress bar')
  .action(async (dir: string, opts: { name: string; quiet?: boolean }) => {
    const { config, client } = await session();
    await upload(client, config.user, dir, opts.name, print, opts.quiet ?? !process.stderr.isTTY);
  });
dataset
  .command('download <name> <dir>')
  .description('download a ready dataset into a folder')
  .option('--quiet', 'no progress bar')
  .action(async (name: string, dir: string, opts: { quiet?: boolean }) => {
    const { config, client } = await session();
    await download(client, config.user, name, dir, print, opts.quiet ?? !process.stderr.isTTY);
  });
dataset
  .command('ls')
  .description('list your datasets')
  .action(async () => {
    const { config, client } = await session();
    await list(client, config.user, print);
  });
dataset
  .command('rm <name>')
  .description('delete a ready or error dataset')
  .action(async (name: string) => {
    const { config, client } = await session();
    await remove(client, config.user, name, print);
  });

const number = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${what} must be a number, not ${value}`);
  return n;
};
const job = program.command('job').description('training jobs: submit, ls, logs, stop, rm');
job
  .command('submit <name>')
  .description('run an entry script from your home (see `mlp home put`)')
  .requiredOption('--entry <path>', 'script path inside your home, e.g. train.py or train.mjs')
  .option('--runtime <name>', 'tf (TensorFlow/Keras, scikit-learn; tfjs for .mjs) or torch (PyTorch); default tf')
  .option('--cpu <cores>', 'cpu cores (0.1–10, default 1)', number('--cpu'))
  .option('--gpu <count>', 'GPUs (0–16, default 0)', number('--gpu'))
  .option('--ram <mi>', 'memory in Mi (100–10000, default 1000)', number('--ram'))
  .option('--retries <n>', 'launch it again this many times if it fails (0–10, default 0), after 10 s, 20 s, …; mlp.resume_path() finds the last checkpoint', number('--retries'))
  .action(async (name: string, opts: jobs.SubmitOptions) => {
    const { config, client } = await session();
    await jobs.submit(client, config.user, name, opts, print);
  });
job
  .command('ls')
  .description('list your jobs')
  .action(async () => {
    const { config, client } = await session();
    await jobs.list(client, config.user, print);
  });
job
  .command('logs <name>')
  .description("print a job's output")
  .option('--follow', 'keep printing until the job ends')
  .action(async (name: string, opts: { follow?: boolean }) => {
    const { config, client } = await session();
    await jobs.logs(client, config.user, name, opts.follow ?? false, (text) => process.stdout.write(text));
  });
job
  .command('metrics <name>')
  .description("print a job's accuracy and loss per epoch")
  .option('--follow', 'keep printing new epochs until the job ends')
  .action(async (name: string, opts: { follow?: boolean }) => {
    const { config, client } = await session();
    await jobs.metrics(client, config.url, config.token, config.user, name, opts.follow ?? false, print);
  });
job
  .command('stop <name>')
  .description('stop a creating or running job')
  .action(async (name: string) => {
    const { config, client } = await session();
    await jobs.stop(client, config.user, name, print);
  });
job
  .command('rm <name>')
  .description('delete a finished or error job')
  .action(async (name: string) => {
    const { config, client } = await session();
    await jobs.remove(client, config.user, name, print);
  });

registerSweep(program, session, print, number);

const model = program.command('model').description('models: create (from a finished job), ls, rm');
model
  .command('create <name>')
  .description("make a model of a finished job's ckpt/ folder")
  .requiredOption('--src <job>', 'the finished job whose ckpt/ becomes the model')
  .option('--no-wait', 'do not wait until it is ready')
  .action(async (name: string, opts: { src: string; wait: boolean }) => {
    const { config, client } = await session();
    await models.create(client, config.user, name, opts.src, opts.wait, print);
  });
model
  .command('ls')
  .description('list your models')
  .action(async () => {
    const { config, client } = await session();
    await models.list(client, config.user, print);
  });
model
  .command('rm <name>')
  .description('delete a ready or error model that no app uses')
  .action(async (name: string) => {
    const { config, client } = await session();
    await models.remove(client, config.user, name, print);
  });

const app = program.command('app').description('applications: create (deploy a model), ls, rm, predict');
app
  .command('create <name>')
  .description('deploy a ready model as an application with its own endpoint')
  .requiredOption('--model <model>', 'the ready model to serve')
  .option('--cpu <cores>', 'cpu cores (0.1–10, default 1)', number('--cpu'))
  .option('--gpu <count>', 'GPUs (0–16, default 0)', number('--gpu'))
  .option('--ram <mi>', 'memory in Mi (100–10000, default 1000)', number('--ram'))
  .option('--no-wait', 'do not wait until it serves')
  .action(async (name: string, opts: apps.CreateOptions) => {
    const { config, client, gw } = await session();
    await apps.create(client, gw, config.user, name, opts, print);
  });
app
  .command('ls')
  .description('list your applications')
  .action(async () => {
    const { config, client, gw } = await session();
    await apps.list(client, gw, config.user, print);
  });
app
  .command('rm <name>')
  .description('delete a ready or error application')
  .action(async (name: string) => {
    const { config, client } = await session();
    await apps.remove(client, config.user, name, print);
  });
app
  .command('predict <name> [file]')
  .description('send instances (JSON: a list, or {"instances": …} / {"inputs": …}) from a file or stdin; print the answer')
  .action(async (name: string, file: string | undefined) => {
    const { config, client, gw } = await session();
    await apps.predict(client, gw, config.token, config.user, name, await apps.readInput(file), print);
  });

program
  .command('home')
  .description('your home folder (scripts, initial models)')
  .command('put <file>')
  .option('--as <path>', 'path inside the home (default: the file name)')
  .action(async (file: string, opts: { as?: string }) => {
    const { config, client } = await session();
    const target = opts.as ?? path.basename(file);
    const res = await client.dav('PUT', `/data/${config.user}/.home/${encodePath(target)}`, { body: createReadStream(file), length: (await stat(file)).size });
    print(`${res.status === 201 ? 'stored' : 'replaced'} .home/${target}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`mlp: ${(err as Error).message}\n`);
  process.exit(1);
});
