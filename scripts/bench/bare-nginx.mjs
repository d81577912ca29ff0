// The reference Nginx of the predict benchmark: one worker passing every request to one upstream
// (a Unix socket or host:port) over kept-alive connections (an upstream {} block) — no token
// check, no lookup, no access log. What any Nginx in front of the model server costs, for the
// ratio of the generated app gateway (nginx/mlp-apps-server.conf).
//   const ref = await startBareNginx('/path/to/model.sock'); ref.url; await ref.stop();
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts, sleep } from '../infra/lib.mjs';

export async function startBareNginx(upstream) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-bare-nginx-'));
  const [port] = await freePorts(1);
  const server = upstream.startsWith('/') ? `unix:${upstream}` : upstream;
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 512; }
http {
    client_body_temp_path ${dir};
    proxy_temp_path ${dir};
    access_log off;
    upstream model { server ${server}; keepalive 32; }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_pass http://model;
        }
    }
}
`,
  );
  const child = spawn('nginx', ['-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`bare nginx exited: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      break;
    if (i > 200) throw new Error('bare nginx did not answer within 10 s');
    await sleep(50);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
