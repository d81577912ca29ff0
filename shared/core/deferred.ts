/** A promise with its resolve and reject, for a wait settled elsewhere (e.g. once a batch is stored). */
export interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

export function deferred(): Deferred {
  let resolve = () => {};
  let reject = (_err: Error) => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Whoever waits sees a rejection; when nobody does, it is not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
