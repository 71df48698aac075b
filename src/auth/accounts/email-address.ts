import { domainToASCII } from 'node:url';

/**
 * The one identity of an email address. Every comparison of addresses goes through this form and
 * nothing else: the unique index (`users.email_canonical`), login, the login throttle, the mail
 * limits, password reset and verification, the operator CLI. Comparing anywhere with another
 * folding (PostgreSQL's `lower()`, whose result depends on the database's collation, or a bare
 * `toLowerCase()` beside it) lets two spellings of one address count as two identities in one
 * place and as one in another: fresh login tries on a locked account, doubled mail limits, a
 * squatted address.
 *
 * It merges only spellings of the very same address, never two mailboxes that may differ:
 * - Unicode normalisation (NFC): `é` and `e` + U+0301 are one letter. Compatibility characters
 *   (fullwidth letters, ligatures), which NFKC would turn into other letters, are refused by the
 *   request validation instead (usesCompatibilityCharacters), so that `ｖictim@…` can neither be
 *   `victim@…` nor squat it.
 * - Letter case, by Unicode's locale-independent lower-case mapping: `İ` (U+0130) is `i` + U+0307,
 *   never the plain `i` that one collation's `lower()` makes of it; `ẞ` is `ß`, and `ß` stays
 *   `ß` (`straße@` and `strasse@` may be two mailboxes). As before, the local part is compared
 *   without case, as every provider people use treats it.
 * - The domain in its ASCII form (IDNA, as the WHATWG URL parser does it): `bücher.example` and
 *   `xn--bcher-kva.example` are one domain. A domain IDNA refuses keeps its lower-case form.
 *
 * Idempotent (a canonical address is its own canonical form), and for ASCII addresses exactly the
 * lower case the module compared before.
 */
export function canonicalEmail(address: string): string {
  const folded = fold(address);
  const at = folded.lastIndexOf('@');
  if (at < 0) return folded;
  const domain = folded.slice(at + 1);
  // ASCII domains are left as folded: the URL parser would read `1.2` as the IPv4 address 1.0.0.2.
  const ascii = NON_ASCII.test(domain) ? domainToASCII(domain) || domain : domain;
  return `${folded.slice(0, at)}@${ascii}`;
}

/**
 * Whether `address` holds compatibility characters (fullwidth letters, ligatures, superscripts…):
 * text that NFKC would turn into other, ordinary characters. An address written with them is
 * refused (400), since it would either be a second identity for the ordinary spelling or squat it.
 */
export function usesCompatibilityCharacters(address: string): boolean {
  return address.normalize('NFKC') !== address.normalize('NFC');
}

const NON_ASCII = /\P{ASCII}/u;

function fold(text: string): string {
  return text.normalize('NFC').toLowerCase().normalize('NFC').trim();
}
