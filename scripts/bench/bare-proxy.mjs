// The reference proxy of the predict benchmark: bare node:http in its own process, passing every
// request to one upstream (a Unix socket or host:port) over kept-alive connections and the answer
// back — no token, no lookup, nothing else. What any Node proxy costs, for the app gateway's ratio.
//   PORT=… UPSTREAM=/path/to/s.sock|127.0.0.1:port node scripts/bench/bare-proxy.mjs
import http from 'node:http';

const upstream = process.env.UPSTREAM ?? '';
const target = upstream.startsWith('/') ? { socketPath: upstream } : { host: upstream.split(':')[0], port: Number(upstream.split(':')[1]) };
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  delete headers.authorization;
  delete headers.connection;
  const out = http.request({ ...target, method: req.method, path: req.url, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
