import { register } from 'node:module';

// Loaded by `node --import` before a job's entry (see command.ts). The hooks run on node's
// loader thread; they are a sibling file of the same kind as this one (.ts from source under
// tsx, whose hooks are registered first and so compile it; .js from dist/).
register(new URL(`./resolve-hooks${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
