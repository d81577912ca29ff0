// The reference receiver of the transfer benchmark: bare node:http in its own process that writes
// each PUT's body to a file as it arrives, fsyncs it and answers 201 — no token, no accounting, no
// rename. What any upload server in Node reaches here, for the platform's upload ratio.
//   DIR=/some/folder node scripts/bench/bare-receiver.mjs   (prints "listening <port>")
import { open } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

const dir = process.env.DIR ?? '.';
let n = 0;
const server = http.createServer(async (req, res) => {
  const file = await open(path.join(dir, `upload-${n++}`), 'w');
  try {
    for await (const chunk of req) await file.write(chunk);
    await file.sync();
    res.writeHead(201).end();
  } catch (err) {
    res.writeHead(500).end(String(err));
  } finally {
    await file.close();
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
