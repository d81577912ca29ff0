import type { Tenant } from '../api.js';
import { bytes, h } from '../dom.js';
import { type Panel, section } from './common.js';

/** The tenant's cpu, gpu, ram and rom: in use of the cap, as bars. */
export function usagePanel(): Panel {
  const bars = (['cpu', 'gpu', 'ram', 'rom'] as const).map((k) => {
    const bar = h('progress', { max: 1, value: 0, id: `usage-${k}` });
    const text = h('span', { class: 'usage-text' });
    return { k, bar, text, el: h('div', { class: 'usage' }, h('label', { for: bar.id }, k), bar, text) };
  });
  const el = section('usage', 'Tenant usage', h('div', { class: 'usage-grid' }, ...bars.map((b) => b.el)));
  const showTenant = (t: Tenant) => {
    for (const b of bars) {
      const used = t[`${b.k}_inuse`];
      const cap = t[b.k];
      b.bar.max = cap || 1;
      b.bar.value = used;
      const fmt = b.k === 'rom' ? bytes : b.k === 'ram' ? (n: number) => `${n} Mi` : (n: number) => String(Math.round(n * 1000) / 1000);
      b.text.textContent = `${fmt(used)} of ${fmt(cap)}`;
      b.bar.setAttribute('aria-valuetext', b.text.textContent);
    }
  };
  return { el, update: (lists) => showTenant(lists.tenant) };
}
