import type { Entry } from './confined.js';

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** A WebDAV multistatus (RFC 4918 §9.1) for a folder or file and, at Depth 1, its children. */
export function multistatus(base: string, self: { dir: boolean; size: number; mtime: Date }, children: Entry[]): string {
  const response = (href: string, e: { dir: boolean; size: number; mtime: Date }) =>
    [
      '<D:response>',
      `<D:href>${escapeXml(encodeURI(href))}</D:href>`,
      '<D:propstat><D:prop>',
      e.dir ? '<D:resourcetype><D:collection/></D:resourcetype>' : '<D:resourcetype/>',
      e.dir ? '' : `<D:getcontentlength>${e.size}</D:getcontentlength>`,
      `<D:getlastmodified>${e.mtime.toUTCString()}</D:getlastmodified>`,
      '</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>',
      '</D:response>',
    ].join('');
  const folder = base.endsWith('/') ? base : `${base}/`;
  const entries = [response(self.dir ? folder : base, self), ...children.map((c) => response(`${folder}${c.path}${c.dir ? '/' : ''}`, c))];
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${entries.join('')}</D:multistatus>\n`;
}
