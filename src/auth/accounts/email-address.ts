import { domainToASCII } from 'node:url';

/**
 * The one identity of an email address. Every comparison of addresses goes through this form and
 * nothing else: the unique index (`users.email_canonical`), login, the login throttle, the mail
 * limits, password reset and verification, the operator CLI. Comparing anywhere with another
 * folding (PostgreSQL's `lower()`, whose result depends on the database's collation, or a bare
 * `toLowerCase()`) lets two spellings of one address count as two identities in one place and as
 * one in another: fresh login tries on a locked account, doubled mail limits, a squatted address.
 *
 * - Unicode normalisation (NFKC): compatibility forms (fullwidth letters, ligatures) are the
 *   letters they stand for.
 * - Case folding, full and locale-independent: lower, upper, then lower case again, so that `ß`,
 *   `ẞ` and `ss` are one, as are `ς` and `σ`, and `İ` (U+0130) is `i` + U+0307 (Unicode's own
 *   folding), never the plain `i` that one collation's `lower()` makes of it. The local part is folded as well:
 *   every provider people use treats it without case, and so did this module before.
 * - The domain in its ASCII form (IDNA, as the WHATWG URL parser does it): `bücher.example` and
 *   `xn--bcher-kva.example` are one domain. A domain IDNA refuses keeps its folded form.
 *
 * Idempotent (a canonical address is its own canonical form), so stored forms can be recomputed.
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

const NON_ASCII = /\P{ASCII}/u;

/** Trimmed last: NFKC may turn a spacing mark into a space and its combining mark. */
function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase().toUpperCase().toLowerCase().normalize('NFKC').trim();
}
