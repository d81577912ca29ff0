import { Forbidden, MalformedBody } from '../core/errors.js';
import { MAX_NAME, MAX_NAMESPACE, MAX_PROPS, MAX_VALUE, type PropName, type PropUpdate } from './deadprops.js';
import { DAV, elements, escapeAttr, is, parseXml, serializeContent, type XmlElement } from './xml.js';

// The XML of dead properties: PROPPATCH and PROPFIND bodies read, property elements written,
// within the bounds of the store they are kept in (deadprops.ts).

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

function propName(el: XmlElement): PropName {
  if (el.uri === DAV) throw new Forbidden(`DAV:${el.local} is a live property of the server; only dead properties (of other namespaces) can be set or removed`);
  if (byteLength(el.local) > MAX_NAME) throw new Forbidden(`a property name is at most ${MAX_NAME} bytes`);
  if (byteLength(el.uri) > MAX_NAMESPACE) throw new Forbidden(`a property namespace is at most ${MAX_NAMESPACE} bytes`);
  return { ns: el.uri, name: el.local };
}

/** The updates of a PROPPATCH body (RFC 4918 §14.19 propertyupdate), in document order. */
export function parsePropertyUpdate(body: string): PropUpdate[] {
  const what = 'PROPPATCH';
  const root = parseXml(body, what);
  if (!is(root, 'propertyupdate')) throw new MalformedBody('the PROPPATCH body must be a DAV: propertyupdate');
  const out: PropUpdate[] = [];
  for (const op of elements(root, what)) {
    if (!is(op, 'set') && !is(op, 'remove')) throw new MalformedBody(`propertyupdate holds only DAV: set and remove, not ${op.local}`);
    for (const prop of elements(op, what)) {
      if (!is(prop, 'prop')) throw new MalformedBody(`DAV:${op.local} holds only DAV: prop, not ${prop.local}`);
      for (const p of elements(prop, what)) {
        const name = propName(p);
        if (is(op, 'remove')) out.push({ op: 'remove', ...name });
        else {
          const xml = serializeContent(p.children);
          if (byteLength(xml) > MAX_VALUE) throw new Forbidden(`the value of property ${name.name} is ${byteLength(xml)} bytes; at most ${MAX_VALUE}`);
          out.push({ op: 'set', ...name, xml });
        }
      }
    }
  }
  if (out.length === 0) throw new MalformedBody('the PROPPATCH body names no property');
  if (out.length > MAX_PROPS * 2) throw new Forbidden(`at most ${MAX_PROPS * 2} property updates per PROPPATCH`);
  return out;
}

export type PropRequest = { kind: 'all' } | { kind: 'names' } | { kind: 'named'; props: PropName[] };

/** What a PROPFIND body asks for (RFC 4918 §14.20); no body is allprop. */
export function parsePropfind(body: string): PropRequest {
  if (body.trim() === '') return { kind: 'all' };
  const what = 'PROPFIND';
  const root = parseXml(body, what);
  if (!is(root, 'propfind')) throw new MalformedBody('the PROPFIND body must be a DAV: propfind');
  const [first] = elements(root, what);
  if (!first) throw new MalformedBody('the PROPFIND body must hold prop, allprop or propname');
  if (is(first, 'allprop')) return { kind: 'all' };
  if (is(first, 'propname')) return { kind: 'names' };
  if (!is(first, 'prop')) throw new MalformedBody(`the PROPFIND body must hold prop, allprop or propname, not ${first.local}`);
  return { kind: 'named', props: elements(first, what).map((p) => ({ ns: p.uri, name: p.local })) };
}

/** A property element: `<name xmlns="ns">value</name>` (a value of none: empty). */
export function propElement(p: PropName, xml = ''): string {
  const head = `${p.name} xmlns="${escapeAttr(p.ns)}"`;
  return xml ? `<${head}>${xml}</${p.name}>` : `<${head}/>`;
}
