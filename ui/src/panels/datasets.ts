import type { Dataset } from '../api.js';
import { age, bytes, field, h, messageLine } from '../dom.js';
import { checkDatasetName } from '../rules.js';
import { KeyedTable } from '../table.js';
import { Cancelled, firstBadPath, picked, uploadDataset } from '../upload.js';
import { deleteAction, errText, moreNote, type Panel, type PanelContext, section, showMore } from './common.js';

/** Datasets: create one by uploading files or a folder (with progress and cancel), and the list. */
export function datasetsPanel(ctx: PanelContext): Panel {
  const { session, refresh } = ctx;
  const dsName = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const dsFiles = h('input', { type: 'file', multiple: true });
  const dsFolder = h('input', { type: 'file' });
  dsFolder.webkitdirectory = true;
  const dsMsg = messageLine();
  const upBar = h('progress', { max: 1, value: 0, id: 'upload-progress' });
  const upText = h('span', { class: 'usage-text' });
  const upCancel = h('button', { type: 'button' }, 'Cancel upload');
  const upBox = h('div', { class: 'row upload', hidden: true }, h('label', { for: upBar.id }, 'Upload'), upBar, upText, upCancel);
  let uploading: AbortController | undefined;
  upCancel.addEventListener('click', () => uploading?.abort());
  const dsForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Create a dataset' },
    h(
      'div',
      { class: 'row' },
      field('Dataset name', dsName, 'a–z and ".", e.g. iris'),
      field('Files', dsFiles),
      field('or a folder', dsFolder),
      h('button', { type: 'submit', class: 'primary' }, 'Create and upload'),
    ),
    upBox,
    dsMsg.el,
  );
  dsForm.addEventListener('submit', (e) => {
    e.preventDefault();
    dsMsg.clear();
    const name = dsName.value.trim();
    const files = [...picked(dsFiles.files, false), ...picked(dsFolder.files, true)];
    const problem = checkDatasetName(name) ?? (files.length === 0 ? 'choose files or a folder to upload' : firstBadPath(files));
    if (problem) return dsMsg.error(problem);
    uploading = new AbortController();
    upBox.hidden = false;
    upBar.max = Math.max(
      1,
      files.reduce((s, f) => s + f.file.size, 0),
    );
    upBar.value = 0;
    uploadDataset(
      session,
      name,
      files,
      (sent, total, current) => {
        upBar.value = sent;
        upText.textContent = `${bytes(sent)} of ${bytes(total)} · ${current}`;
        upBar.setAttribute('aria-valuetext', upText.textContent);
        void refresh();
      },
      uploading.signal,
    )
      .then(
        () => {
          dsMsg.ok(`dataset ${name} is ready (${files.length} files)`);
          dsForm.reset();
        },
        (err: unknown) => (err instanceof Cancelled ? dsMsg.ok(`upload of ${name} cancelled; the dataset was removed`) : dsMsg.error(errText(err))),
      )
      .finally(() => {
        uploading = undefined;
        upBox.hidden = true;
        void refresh();
      });
  });
  const datasets = new KeyedTable<Dataset>(
    'Datasets',
    [
      { label: 'Name', value: (d) => d.name },
      { label: 'State', value: (d) => d.state + (d.msg ? ` — ${d.msg}` : '') },
      { label: 'Progress', value: (d) => `${d.progress}%` },
      { label: 'Size', value: (d) => bytes(d.size) },
      { label: 'Age', value: (d) => age(d.created_at) },
    ],
    [
      deleteAction<Dataset>(
        ctx,
        'dataset',
        (d) => d.state === 'ready' || d.state === 'error',
        (d) => `/datasets/${d.name}`,
      ),
    ],
    'No datasets yet.',
  );
  const dsMore = moreNote('datasets');
  const el = section('datasets', 'Datasets', dsForm, datasets.el, dsMore);
  return {
    el,
    update(lists) {
      // Lists come in pages (?limit=200, Link rel="next"); past MAX_ROWS the table says so.
      showMore(dsMore, lists.datasets, 'datasets');
      datasets.update(lists.datasets.items);
    },
    stop: () => uploading?.abort(),
  };
}
