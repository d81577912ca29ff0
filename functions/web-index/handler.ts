import { Reply, type Handler } from '../../shared/route.js';
import type route from './route.js';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MLP</title></head>
<body>
<h1>MLP</h1>
<p>The platform is running. The browser UI is not built yet; use the REST API under <code>/api/v1</code>.</p>
<pre>curl -X POST -H 'content-type: application/json' -d '{"username":"alice","password":"correct-horse"}' http://HOST/api/v1/users</pre>
</body></html>
`;

export const handle: Handler<typeof route> = async () => new Reply(PAGE, 200, { 'content-type': 'text/html; charset=utf-8' });
