import { SaxesParser, type SaxesTagNS } from 'saxes';
import { MalformedBody } from '../core/errors.js';

// The request bodies of PROPPATCH and PROPFIND (RFC 4918 §14), parsed with saxes: strict XML 1.0
// with namespaces (a malformed body or an unbound prefix is an error, never a guess). A DOCTYPE is
// refused, so no entity of the client's own making is ever expanded; the body's size is bounded
// by the caller before it gets here.

export const DAV = 'DAV:';

export interface XmlElement {
  uri: string;
  local: string;
  attrs: { uri: string; local: string; value: string }[];
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const XMLNS = 'http://www.w3.org/2000/xmlns/';
const MAX_DEPTH = 32;

/** The document element of `text`; 400 {msg} on /data (MalformedBody) for anything that is not well-formed XML with namespaces. */
export function parseXml(text: string, what: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const refuse = (why: string): never => {
    throw new MalformedBody(`the ${what} body is not well-formed XML: ${why}`);
  };
  parser.on('doctype', () => refuse('a DOCTYPE is not accepted'));
  parser.on('opentag', (tag: SaxesTagNS) => {
    if (stack.length >= MAX_DEPTH) refuse(`elements nest deeper than ${MAX_DEPTH}`);
    const attrs = Object.values(tag.attributes)
      .filter((a) => a.uri !== XMLNS && a.name !== 'xmlns')
      .map((a) => ({ uri: a.uri, local: a.local, value: a.value }));
    const el: XmlElement = { uri: tag.uri, local: tag.local, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const text_ = (t: string) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(t);
  };
  parser.on('text', text_);
  parser.on('cdata', text_);
  parser.on('error', (err) => refuse(err.message.replace(/^undefined:/, '').trim()));
  parser.write(text).close();
  return root ?? refuse('no document element');
}

/** The child elements of `el` (text between them must be whitespace only, as in every DAV: structure). */
export function elements(el: XmlElement, what: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (typeof c !== 'string') out.push(c);
    else if (c.trim() !== '') throw new MalformedBody(`${what}: unexpected text "${c.trim().slice(0, 40)}" in <${el.local}>`);
  }
  return out;
}

export const is = (el: XmlElement, local: string) => el.uri === DAV && el.local === local;

const escapeText = (s: string) => s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
export const escapeAttr = (s: string) => s.replace(/[&<>"\r\n\t]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The content of a property element as XML that stands on its own: every element declares its
 * namespace (default namespace, `xmlns=""` for none) and its attributes' namespaces, so it can be
 * put inside any other element unchanged.
 */
export function serializeContent(nodes: XmlNode[]): string {
  return nodes.map((n) => (typeof n === 'string' ? escapeText(n) : serializeElement(n))).join('');
}

function serializeElement(el: XmlElement): string {
  const decls: string[] = [`xmlns="${escapeAttr(el.uri)}"`];
  const attrs = el.attrs.map((a, i) => {
    if (!a.uri) return `${a.local}="${escapeAttr(a.value)}"`;
    if (a.uri === 'http://www.w3.org/XML/1998/namespace') return `xml:${a.local}="${escapeAttr(a.value)}"`;
    decls.push(`xmlns:a${i}="${escapeAttr(a.uri)}"`);
    return `a${i}:${a.local}="${escapeAttr(a.value)}"`;
  });
  const head = [el.local, ...decls, ...attrs].join(' ');
  return el.children.length ? `<${head}>${serializeContent(el.children)}</${el.local}>` : `<${head}/>`;
}
