import { api, ApiError, authHeader, type Session } from './api.js';
import { checkFilePath } from './rules.js';

export interface PickedFile {
  file: File;
  /** The path inside the dataset: the file's name, or its path below the chosen folder. */
  path: string;
}

/** Files from a file input; for a folder input the chosen folder's own name is dropped. */
export function picked(list: FileList | null, folder: boolean): PickedFile[] {
  return [...(list ?? [])].map((file) => ({ file, path: folder && file.webkitRelativePath ? file.webkitRelativePath.split('/').slice(1).join('/') : file.name }));
}

export const firstBadPath = (files: PickedFile[]) => files.map((f) => checkFilePath(f.path)).find(Boolean);

export class Cancelled extends Error {
  constructor() {
    super('upload cancelled');
  }
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/**
 * One file over WebDAV (docs/api.md#datasets): PUT with the page's token always sent, so the 401
 * challenge meant for WebDAV clients never reaches the browser's password dialog.
 */
export function putFile(session: Session, url: string, file: File, onBytes: (loaded: number) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('authorization', authHeader(session).authorization);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onBytes(e.loaded);
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 204) return resolve();
      let msg = `the platform answered ${xhr.status}`;
      try {
        msg = (JSON.parse(xhr.responseText) as { msg?: string }).msg ?? msg;
      } catch {
        // keep the status line
      }
      reject(new ApiError(msg, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError('the upload failed: the connection broke', 0));
    xhr.onabort = () => reject(new Cancelled());
    if (signal.aborted) return reject(new Cancelled());
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/**
 * Creates a dataset of the files' total size, uploads each file, reports progress by heartbeat,
 * marks it ready. Cancelling aborts the transfer, marks the dataset error and deletes it, so
 * nothing half-uploaded stays behind.
 */
export async function uploadDataset(session: Session, name: string, files: PickedFile[], onProgress: (sent: number, total: number, current: string) => void, signal: AbortSignal): Promise<void> {
  const total = files.reduce((s, f) => s + f.file.size, 0);
  const base = `/api/v1/users/${encodeURIComponent(session.user)}/datasets`;
  await api('POST', base, { session, body: { name, size: total } });
  let done = 0;
  try {
    for (const f of files) {
      onProgress(done, total, f.path);
      await putFile(session, `/data/${encodeURIComponent(session.user)}/${encodeURIComponent(name)}/${encodePath(f.path)}`, f.file, (loaded) => onProgress(done + loaded, total, f.path), signal);
      done += f.file.size;
      onProgress(done, total, f.path);
      const progress = total === 0 ? 99 : Math.min(99, Math.floor((100 * done) / total));
      await api('PUT', `${base}/${name}:heartbeat`, { session, body: { state: 'creating', progress } });
    }
    await api('PUT', `${base}/${name}:heartbeat`, { session, body: { state: 'ready', progress: 100 } });
  } catch (err) {
    // Refused or cancelled: the dataset cannot be finished; mark it error and delete it.
    await api('PUT', `${base}/${name}:heartbeat`, { session, body: { state: 'error', progress: 0 } }).catch((e: unknown) => console.warn('dataset cleanup after a failed upload', e));
    await api('DELETE', `${base}/${name}`, { session }).catch((e: unknown) => console.warn('dataset cleanup after a failed upload', e));
    throw err;
  }
}

/** A script or file into the user's home (docs/api.md#datasets .home). */
export function putHome(session: Session, file: File, signal: AbortSignal): Promise<void> {
  return putFile(session, `/data/${encodeURIComponent(session.user)}/.home/${encodeURIComponent(file.name)}`, file, () => undefined, signal);
}
