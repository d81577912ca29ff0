// The baseline server of the api and cold benchmarks: bare node:http in its own process,
// answering every request with MLP_BENCH_BODY (the body the platform answers), nothing else.
//   PORT=… MLP_BENCH_BODY='{"…"}' node scripts/bench/bare-server.mjs
import http from 'node:http';

const body = process.env.MLP_BENCH_BODY ?? '""';
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
