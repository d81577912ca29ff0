import type { RouteDef } from '../../shared/route.js';

// Placeholder until the gateway generator lands (being written now); renders nothing yet.
export function renderNginx(_routes: RouteDef[]): Record<string, string> {
  return {};
}
