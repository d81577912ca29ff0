/** A queue place as people read it (docs/api.md#experiments): "queue #2, ~3 min" (the CLI and the UI share it). */
export function queueWords(q: { position: number; eta_s: number | null }): string {
  return `queue #${q.position}, ${q.eta_s === null ? 'wait unknown' : `~${waitWords(q.eta_s)}`}`;
}

/** Seconds in the largest unit that reads well: 45 s, 3 min, 2 h 5 min. */
export function waitWords(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s - h * 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}
