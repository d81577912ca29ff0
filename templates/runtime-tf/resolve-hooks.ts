import type { ResolveHook } from 'node:module';

// A job's entry lives in the user's home, far from the platform's node_modules. These hooks
// make `import '@tensorflow/tfjs'` (and any `@tensorflow/*` part) resolve from the platform's
// own install, so the script and `@mlp/runtime` share one tfjs, and map `@mlp/runtime` to the
// helper library beside this file. CommonJS `require` is not hooked in Node 20; NODE_PATH
// (command.ts) covers it.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const HELPER = new URL(`./mlp-runtime${EXT}`, import.meta.url).href;

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  // Through the rest of the chain, so tsx (from source) learns the file is TypeScript.
  if (specifier === '@mlp/runtime') return nextResolve(HELPER, context);
  if (specifier.startsWith('@tensorflow/')) return nextResolve(specifier, { ...context, parentURL: import.meta.url });
  return nextResolve(specifier, context);
};
