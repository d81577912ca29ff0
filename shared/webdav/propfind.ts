import type { Entry } from './confined.js';
import type { DeadProp, PropName } from './deadprops.js';
import { propElement, type PropRequest } from './deadprops-xml.js';

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** An href: each segment percent-encoded on its own, so names with `#`, `?`, `%` or spaces stay one segment. */
const hrefOf = (p: string) => escapeXml(p.split('/').map(encodeURIComponent).join('/'));

export interface Resource {
  dir: boolean;
  size: number;
  mtime: Date;
  dead?: DeadProp[];
}

const LIVE = ['resourcetype', 'getcontentlength', 'getlastmodified'] as const;

function live(name: string, e: Resource): string | undefined {
  if (name === 'resourcetype') return e.dir ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>';
  if (name === 'getcontentlength') return e.dir ? undefined : `<D:getcontentlength>${e.size}</D:getcontentlength>`;
  if (name === 'getlastmodified') return `<D:getlastmodified>${e.mtime.toUTCString()}</D:getlastmodified>`;
  return undefined;
}

const propstat = (props: string[], status: string) => (props.length ? `<D:propstat><D:prop>${props.join('')}</D:prop><D:status>HTTP/1.1 ${status}</D:status></D:propstat>` : '');

function propstats(e: Resource, want: PropRequest): string {
  const dead = e.dead ?? [];
  if (want.kind === 'all') return propstat([...LIVE.map((n) => live(n, e) ?? ''), ...dead.map((p) => propElement(p, p.xml))], '200 OK');
  if (want.kind === 'names') return propstat([...LIVE.filter((n) => live(n, e) !== undefined).map((n) => `<D:${n}/>`), ...dead.map((p) => propElement(p))], '200 OK');
  const found: string[] = [];
  const missing: string[] = [];
  for (const p of want.props) {
    const value = p.ns === 'DAV:' ? live(p.name, e) : undefined;
    const d = p.ns === 'DAV:' ? undefined : dead.find((x: PropName) => x.ns === p.ns && x.name === p.name);
    if (value !== undefined) found.push(value);
    else if (d) found.push(propElement(d, d.xml));
    else missing.push(propElement(p));
  }
  return propstat(found, '200 OK') + propstat(missing, '404 Not Found');
}

/** A WebDAV multistatus (RFC 4918 §9.1) for a folder or file and, at Depth 1, its children. */
export function multistatus(base: string, self: Resource, children: (Entry & { dead?: DeadProp[] })[], want: PropRequest = { kind: 'all' }): string {
  const response = (href: string, e: Resource) => ['<D:response>', `<D:href>${hrefOf(href)}</D:href>`, propstats(e, want), '</D:response>'].join('');
  const folder = base.endsWith('/') ? base : `${base}/`;
  const entries = [response(self.dir ? folder : base, self), ...children.map((c) => response(`${folder}${c.path}${c.dir ? '/' : ''}`, c))];
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${entries.join('')}</D:multistatus>\n`;
}

/** The multistatus of a PROPPATCH that was applied in full: each property, 200 OK. */
export function proppatchStatus(href: string, names: PropName[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response><D:href>${hrefOf(href)}</D:href>${propstat(
    names.map((n) => propElement(n)),
    '200 OK',
  )}</D:response></D:multistatus>\n`;
}
