import type { Runtimes } from '../shared/runtimes/port.js';
import { modelServer } from './model-server-tf/command.js';
import { nodeJobs } from './runtime-tf/command.js';

/**
 * The runtimes' templates as the platform's runtimes port: what the composition roots
 * (templates/mlp-node20/index.ts, scripts/local/platform.ts) hand to createDeps. The type is
 * checked here, as the templates themselves never import shared/ (shared/wiring/layers.test.ts).
 */
export const runtimes: Runtimes = { nodeJobs, modelServer };
