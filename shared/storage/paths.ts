import path from 'node:path';

/** The storage plan of docs/api.md#storage, under MLP_ROOT (/mlp in the cluster). */
export function storagePaths(root: string) {
  return {
    dataset: (user: string, name: string) => path.join(root, 'datasets', user, name),
    home: (user: string) => path.join(root, 'datasets', user, '.home'),
    model: (user: string, name: string) => path.join(root, 'models', user, name),
    job: (user: string, name: string) => path.join(root, 'jobs', user, name),
    /** An app's own folder (its server's log); beyond docs/api.md#storage, which lists no app files. */
    app: (user: string, name: string) => path.join(root, 'apps', user, name),
    log: (component: string) => path.join(root, 'log', component),
  };
}
