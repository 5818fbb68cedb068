import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * XML for metadata blocks (OME-XML), read with fast-xml-parser: well-formedness is checked first
 * (malformed input throws an Error naming the line and column), then the document becomes an element
 * tree with attributes and text. Namespace prefixes are dropped (`ome:Pixels` → `Pixels`), because
 * OME-XML writers disagree on prefixes but not on local names. Comments and processing instructions are
 * skipped, CDATA is kept as text.
 *
 * Entities: only the five predefined ones and numeric character references are decoded. A DOCTYPE is
 * accepted but its entity declarations are never expanded (the parser's own entity processing is off),
 * so an image description cannot make the reader build "billion laughs" strings or fetch anything.
 *
 * Reference: Extensible Markup Language (XML) 1.0, 5th edition, W3C (sections 2.4–2.8, 4.1, 4.6).
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes `&lt;`, `&#181;`, `&#xB5;`…; other named entities (a DTD's) are left as written. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[body] ?? m;
  });
}

/** Escapes text for an XML attribute value or element content. */
export function escapeXml(s: string): string {
  // Other characters stay as they are (UTF-8 in the file): Bio-Formats — Fiji's and QuPath's reader — does
  // not decode numeric character references in OME-XML attributes (`&#181;m` failed its unit check, so
  // it read the file as a plain TIFF); tifffile and Bio-Formats' own writer put UTF-8 there too.
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const ATTRS = ':@';
const TEXT = '#text';

/** fast-xml-parser's ordered output: one key per node (the tag name, or `#text`), attributes under `:@`. */
type OrderedNode = Record<string, unknown> & { [ATTRS]?: Record<string, string> };

const parser = new XMLParser({
  preserveOrder: true, // children in document order, repeated names kept apart
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  processEntities: false, // never expand DTD entities; the predefined ones are decoded here
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/**
 * Parses an XML document and returns a synthetic `#document` element holding the top-level elements.
 * @throws Error naming the line and column when the document is not well-formed.
 */
export function parseXml(xml: string): XmlElement {
  let nodes: OrderedNode[];
  try {
    const valid = XMLValidator.validate(xml);
    if (valid !== true) throw new Error(`malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
    nodes = parser.parse(xml) as OrderedNode[];
  } catch (e) {
    // The parser's own refusals (nesting too deep, reserved names) are malformed input too.
    const message = (e as Error).message;
    throw new Error(message.startsWith('malformed XML') ? message : `malformed XML: ${message}`, { cause: e });
  }
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  addChildren(root, nodes);
  return root;
}

function addChildren(parent: XmlElement, nodes: OrderedNode[]): void {
  for (const node of nodes) {
    const name = Object.keys(node).find((k) => k !== ATTRS);
    if (name === undefined) continue;
    if (name === TEXT) {
      parent.text += decodeEntities(String(node[TEXT]));
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(node[ATTRS] ?? {})) attrs[k] = decodeEntities(String(v));
    const el: XmlElement = { name, attrs, children: [], text: '' };
    parent.children.push(el);
    addChildren(el, node[name] as OrderedNode[]);
  }
}

/** All descendants (depth-first, document order) with the given local name. */
export function findAll(el: XmlElement, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    findAll(c, name, out);
  }
  return out;
}

/** Direct children with the given local name. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
