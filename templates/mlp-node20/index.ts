import { loadFunction } from '../../shared/routes/registry.js';
import { serveFunction } from './serve.js';

/**
 * The server entry of one function, loaded from the functions folder by name (MLP_FUNCTION):
 * what the tests and the local cluster scripts spawn. The function image runs its function's
 * bundle instead (dist/bundles/{name}/index.js, scripts/bundle-functions.mjs), the same server
 * with the function imported statically, in one file.
 */
serveFunction(process.env.MLP_FUNCTION, loadFunction);
