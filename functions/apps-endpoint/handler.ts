import { readyApp } from '../../shared/apps/endpoint.js';
import { Reply, type Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const { upstream } = await readyApp(deps, params.user ?? '', params.app ?? '');
  return new Reply({ upstream }, 200, { 'x-mlp-app-upstream': upstream });
};
