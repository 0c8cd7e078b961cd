import { DOMParser } from '@xmldom/xmldom';
import { SamlRejected } from './errors.js';

/**
 * Checks on a SAML message before and after samlify sees it. samlify verifies the signature;
 * these make sure the element the broker then reads is the element that was signed, by refusing
 * every document shape that signature wrapping (XSW1-XSW8) needs: a second Response or Assertion,
 * a Signature anywhere but on the root or the one Assertion, a Reference to anything but its
 * parent, duplicate IDs. A genuine IdP never sends those shapes, so refusing them costs nothing.
 */
const NS_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const NS_DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const ELEMENT = 1;
const COMMENT = 8;
const TEXT = 3;
const CDATA = 4;

type El = Element;

/** Strict base64 decoding with a size bound (decoded size checked before allocation). */
export function decodeBase64Message(encoded: unknown, maxBytes: number): string {
  if (typeof encoded !== 'string' || encoded.length === 0) throw new SamlRejected('saml_missing', 'No SAML message was received.');
  const compact = encoded.replace(/[\r\n\t ]/g, '');
  if (compact.length > Math.ceil((maxBytes * 4) / 3) + 4) throw new SamlRejected('saml_oversized', 'The SAML message is too large.');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new SamlRejected('saml_malformed', 'The SAML message is not valid base64.');
  return Buffer.from(compact, 'base64').toString('utf8');
}

/**
 * Parses with xmldom, refusing any DTD first: a DOCTYPE is how XXE and entity-expansion
 * ("billion laughs") payloads arrive, and SAML never needs one (saml-core §6.4 / sec-consider §6.3.1).
 */
export function parseSaml(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY|<!\[INCLUDE|<!\[IGNORE/i.test(xml))
    throw new SamlRejected('saml_dtd_forbidden', 'The SAML message contains a DTD, which is not allowed.');
  let failed = false;
  const doc = new DOMParser({
    locator: {},
    errorHandler: { warning: () => undefined, error: () => (failed = true), fatalError: () => (failed = true) },
  }).parseFromString(xml, 'text/xml');
  if (failed || !doc || !doc.documentElement) throw new SamlRejected('saml_malformed', 'The SAML message is not well-formed XML.');
  return doc;
}

function* elements(root: Node): Generator<El> {
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.nodeType === ELEMENT) yield n as El;
    const kids = n.childNodes;
    for (let i = kids ? kids.length - 1 : -1; i >= 0; i--) stack.push(kids[i]);
  }
}

function hasComment(root: Node): boolean {
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.nodeType === COMMENT) return true;
    const kids = n.childNodes;
    for (let i = 0; kids && i < kids.length; i++) stack.push(kids[i]);
  }
  return false;
}

const wrapping = (detail: string): SamlRejected =>
  new SamlRejected('saml_signature_wrapping', `The SAML message has an unexpected structure (${detail}).`, 'bad_signature');

export function childElements(el: El, ns: string, localName: string): El[] {
  const out: El[] = [];
  for (let i = 0; i < el.childNodes.length; i++) {
    const c = el.childNodes[i];
    if (c.nodeType === ELEMENT && (c as El).namespaceURI === ns && (c as El).localName === localName) out.push(c as El);
  }
  return out;
}

export function firstChild(el: El | undefined, ns: string, localName: string): El | undefined {
  return el ? childElements(el, ns, localName)[0] : undefined;
}

/** The text of an element that must hold plain text only (no comment, no child element). */
export function plainText(el: El | undefined): string | undefined {
  if (!el) return undefined;
  let s = '';
  for (let i = 0; i < el.childNodes.length; i++) {
    const c = el.childNodes[i];
    if (c.nodeType === TEXT || c.nodeType === CDATA) s += c.nodeValue ?? '';
    else if (c.nodeType === COMMENT)
      throw new SamlRejected('saml_comment_injection', 'The SAML assertion contains a comment inside a value.');
    else throw wrapping(`unexpected element inside ${el.localName}`);
  }
  return s.trim();
}

export interface GuardedMessage {
  doc: Document;
  root: El;
  /** The one assertion (absent in a LogoutRequest, or while still encrypted). */
  assertion?: El;
}

/**
 * The structural rules, for a Response (`expectAssertion`) or a LogoutRequest/LogoutResponse.
 * Run on the raw message and again on what samlify returns (the decrypted document).
 */
export function guardStructure(
  doc: Document,
  rootName: 'Response' | 'LogoutRequest' | 'LogoutResponse',
  expectAssertion: boolean,
): GuardedMessage {
  const root = doc.documentElement as El;
  if (root.namespaceURI !== NS_PROTOCOL || root.localName !== rootName) throw wrapping(`root is not a ${rootName}`);

  const ids = new Set<string>();
  const assertions: El[] = [];
  const encrypted: El[] = [];
  const signatures: El[] = [];
  for (const el of elements(root)) {
    // xml-crypto resolves references through any of Id/ID/id: each value must be unique.
    for (const attr of ['ID', 'Id', 'id']) {
      const v = el.getAttribute(attr);
      if (v) {
        if (ids.has(v)) throw wrapping('duplicate ID');
        ids.add(v);
      }
    }
    if (el.localName === 'Assertion') assertions.push(el);
    else if (el.localName === 'EncryptedAssertion') encrypted.push(el);
    else if (el.localName === 'Signature' && el.namespaceURI === NS_DSIG) signatures.push(el);
    else if (el.localName === 'Response' && el !== root) throw wrapping('nested Response');
  }

  let assertion: El | undefined;
  if (expectAssertion) {
    if (assertions.length + encrypted.length !== 1) throw wrapping(`${assertions.length + encrypted.length} assertions`);
    const a = assertions[0] ?? encrypted[0];
    if (a.parentNode !== root || a.namespaceURI !== NS_ASSERTION) throw wrapping('assertion is not a child of the response');
    assertion = assertions[0];
  } else if (assertions.length + encrypted.length) throw wrapping('assertion in a logout message');

  const parentsSeen = new Set<El>();
  for (const sig of signatures) {
    const parent = sig.parentNode as El;
    if (parent !== root && parent !== assertion) throw wrapping('signature in an unexpected place');
    if (parentsSeen.has(parent)) throw wrapping('two signatures on one element');
    parentsSeen.add(parent);
    const signedInfo = firstChild(sig, NS_DSIG, 'SignedInfo');
    const refs = signedInfo ? childElements(signedInfo, NS_DSIG, 'Reference') : [];
    const id = parent.getAttribute('ID');
    // saml-core §5.4.2: exactly one Reference, whose URI is "#" + the ID of the signed element.
    if (refs.length !== 1 || !id || refs[0].getAttribute('URI') !== `#${id}`) throw wrapping('signature does not reference its element');
  }
  if (assertion && hasComment(assertion)) throw new SamlRejected('saml_comment_injection', 'The SAML assertion contains a comment.');
  return { doc, root, assertion };
}

export { NS_PROTOCOL, NS_ASSERTION, NS_DSIG };
