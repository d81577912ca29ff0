import { Forbidden } from '../../shared/core/errors.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async () => {
  throw new Forbidden('the data client is a Node.js program now: download /data_client.js and run `node data_client.js --help`');
};
