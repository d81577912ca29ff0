import { appsCollection, appView } from '../../shared/repos/apps.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => (await appsCollection(deps.store).find({ user: params.user ?? '' })).map(appView);
