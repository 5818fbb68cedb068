/**
 * A tiny, forgiving XML reader for metadata blocks (OME-XML). It builds an element tree with
 * attributes and text, decodes the five named entities and numeric character references, skips
 * comments, processing instructions, DOCTYPE and keeps CDATA as text, and drops namespace prefixes
 * (`ome:Pixels` → `Pixels`), because OME-XML writers disagree on prefixes but not on local names.
 * It does not validate; malformed input throws an Error with the position.
 *
 * Reference: Extensible Markup Language (XML) 1.0, 5th edition, W3C (sections 2.4–2.8, 4.1).
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes `&lt;`, `&#181;`, `&#xB5;`…; unknown named entities are left as written. */
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

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i >= 0 ? qname.slice(i + 1) : qname;
}

/** Parses an XML document and returns its root element. */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  const n = xml.length;
  const fail = (why: string): never => {
    throw new Error(`malformed XML at offset ${i}: ${why}`);
  };
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      stack[stack.length - 1].text += decodeEntities(xml.slice(i));
      break;
    }
    if (lt > i) stack[stack.length - 1].text += decodeEntities(xml.slice(i, lt));
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i + 9);
      if (end < 0) fail('unterminated CDATA');
      stack[stack.length - 1].text += xml.slice(i + 9, end);
      i = end + 3;
    } else if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i + 2);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
    } else if (xml.startsWith('<!', i)) {
      // DOCTYPE, possibly with an internal subset in brackets.
      let depth = 0;
      let j = i + 2;
      for (; j < n; j++) {
        if (xml[j] === '[') depth++;
        else if (xml[j] === ']') depth--;
        else if (xml[j] === '>' && depth <= 0) break;
      }
      i = j + 1;
    } else if (xml[i + 1] === '/') {
      const end = xml.indexOf('>', i);
      if (end < 0) fail('unterminated end tag');
      const name = localName(xml.slice(i + 2, end).trim());
      if (stack.length < 2 || stack[stack.length - 1].name !== name) fail(`unexpected </${name}>`);
      stack.pop();
      i = end + 1;
    } else {
      const tag = /^<([A-Za-z_][\w.:-]*)/.exec(xml.slice(i, i + 256));
      if (!tag) fail('bad start tag');
      const el: XmlElement = { name: localName(tag![1]), attrs: {}, children: [], text: '' };
      i += tag![0].length;
      const attrRe = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')|\s*(\/?>)/y;
      for (;;) {
        attrRe.lastIndex = i;
        const m = attrRe.exec(xml);
        if (!m) fail(`bad attribute in <${el.name}>`);
        i = attrRe.lastIndex;
        if (m![5]) {
          stack[stack.length - 1].children.push(el);
          if (m![5] === '>') stack.push(el);
          break;
        }
        el.attrs[localName(m![1])] = decodeEntities(m![3] ?? m![4] ?? '');
      }
    }
  }
  if (stack.length !== 1) fail(`unclosed <${stack[stack.length - 1].name}>`);
  return root;
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
