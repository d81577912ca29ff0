import { notFound } from '../../shared/datasets/lifecycle.js';
import type { Deps } from '../../shared/wiring/deps.js';
import { Invalid } from '../../shared/core/errors.js';
import { datasetId, datasetsCollection, type DatasetDoc } from '../../shared/records/datasets.js';
import type { StreamHandler } from '../../shared/routes/route.js';
import { encodedRestOf, resolveTarget, type Target } from '../../shared/webdav/target.js';
import { send } from './common.js';
import { copyOrMove } from './copy-move.js';
import { get, propfind } from './read.js';
import { mkcol, put, proppatch, remove } from './write.js';

// /data's WebDAV methods, each answered by its module: read.ts (GET, HEAD, PROPFIND), write.ts (PUT,
// DELETE, MKCOL, PROPPATCH), copy-move.ts (COPY, MOVE); common.ts holds what they share, body.ts
// reads small bodies, accounting.ts counts uploads against the room and serializes commits.
const ALLOW = 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE';

export const handle: StreamHandler = async (input, deps) => {
  // Names are decoded here, once and segment by segment, from the path as it was sent.
  const user = input.params.user ?? '';
  const target = resolveTarget(user, encodedRestOf(input.req.url ?? '', user));
  const dataset = target.home ? undefined : await datasetOf(target, deps);
  switch (input.method) {
    case 'OPTIONS':
      return send(input, 200, '', { allow: ALLOW, dav: '1' });
    case 'PUT':
      return put(input, target, dataset, deps);
    case 'GET':
    case 'HEAD':
      return get(input, target, dataset, deps);
    case 'DELETE':
      return remove(input, target, dataset, deps);
    case 'MKCOL':
      return mkcol(input, target, dataset, deps);
    case 'PROPFIND':
      return propfind(input, target, dataset, deps);
    case 'PROPPATCH':
      return proppatch(input, target, dataset, deps);
    case 'COPY':
    case 'MOVE':
      return copyOrMove(input, target, dataset, deps);
    default:
      throw new Invalid(`method ${input.method} is not allowed on /data; use ${ALLOW}`);
  }
};

async function datasetOf(target: Target, deps: Deps): Promise<DatasetDoc> {
  const doc = await datasetsCollection(deps.store).get(datasetId(target.user, target.name));
  return doc ?? notFound(target.name);
}
