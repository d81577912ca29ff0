/**
 * The target of the rel="next" link in a Link header (RFC 8288), if any: the `<…>` of the first
 * link whose rel names "next" among its space-separated relations, as written (a relative target
 * is for the caller to resolve against the URL it came from). The server writes one such link per
 * page of a list (shared/http/paging.ts); the `mlp` client, the browser UI and the tests read it here.
 * Plain TypeScript with no Node imports: the UI bundle imports it too.
 */
export function nextLink(header: string | null | undefined): string | undefined {
  for (const part of header?.split(/,(?=\s*<)/) ?? []) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    const rel = /;\s*rel\s*=\s*"?([^";]*)"?/i.exec(m?.[2] ?? '')?.[1] ?? '';
    if (m && rel.toLowerCase().split(/\s+/).includes('next')) return m[1];
  }
  return undefined;
}
