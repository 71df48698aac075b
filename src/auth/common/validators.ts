import { type ArgumentMetadata, BadRequestException, ParseUUIDPipe } from '@nestjs/common';
import { isEmail, ValidateBy, type ValidationOptions } from 'class-validator';
import { codePointLength } from './client-address.js';
import { usesCompatibilityCharacters } from '../accounts/email-address.js';

/**
 * At most `max` characters as PostgreSQL counts them (code points), no NUL, which PostgreSQL
 * text cannot hold, and no unpaired surrogate, which it would silently store as U+FFFD. class-validator's MaxLength counts differently (it discounts variation
 * selectors), so a string it accepts could overflow a varchar(n) column and fail as a 500.
 */
export function StorableString(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'storableString',
      constraints: [max],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' &&
          !value.includes('\u0000') &&
          !hasLoneSurrogate(value) &&
          codePointLength(value) <= max,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be at most ${max} characters of valid text, without NUL characters`,
      },
    },
    options,
  );
}

/**
 * An email address, as class-validator's IsEmail checks it, but never throwing: validator.js
 * measures the address with encodeURI, which throws a URIError on a lone surrogate (JSON can carry
 * one, "\ud800"), and the request then failed as a 500. No such string is an address. Nor is one
 * written with compatibility characters (fullwidth letters, ligatures).
 */
export function IsEmailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isEmail',
      validator: {
        validate: isEmailAddress,
        defaultMessage: (args) => `${args?.property ?? 'value'} must be an email`,
      },
    },
    options,
  );
}

/** What IsEmailAddress accepts (also for addresses that come from elsewhere: an OpenID provider's). */
export function isEmailAddress(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    !hasLoneSurrogate(value) &&
    // Fullwidth letters and the like: another spelling of an ordinary address (canonicalEmail).
    !usesCompatibilityCharacters(value) &&
    isEmail(value)
  );
}

/** Whether `text` holds a UTF-16 surrogate that is not half of a pair (not valid Unicode). */
export function hasLoneSurrogate(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0xd800 || code > 0xdfff) continue;
    if (code >= 0xdc00) return true;
    const next = text.charCodeAt(index + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
    index += 1;
  }
  return false;
}

/**
 * A new password must be well-formed text: an unpaired surrogate would reach the hasher as U+FFFD,
 * so two different passwords would hash alike. (Passwords presented at login are only compared.)
 */
export function WellFormedText(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'wellFormedText',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && !hasLoneSurrogate(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be valid text (no unpaired surrogates)`,
      },
    },
    options,
  );
}

/**
 * The one field of `names` a body gives (null and absent are not given): 400 in Nest's shape,
 * naming the fields, when it gives none or several. For bodies that take one proof of several kinds.
 */
export function theOneGiven<K extends string>(body: Partial<Record<K, unknown>>, names: readonly K[]): K {
  const given = names.filter((name) => body[name] !== undefined && body[name] !== null);
  if (given.length !== 1) {
    const list = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
    throw new BadRequestException([`exactly one of ${list} must be given`]);
  }
  return given[0];
}

/**
 * A route's UUID parameter, in the one spelling the module keys things by: lower case. An id is
 * compared as text in memory (revocations, `id === user.userId`), and `ParseUUIDPipe` also
 * accepts upper case: an `ABC…` id would revoke in the database and miss in memory.
 */
export class CanonicalUuidPipe extends ParseUUIDPipe {
  override async transform(value: string, metadata: ArgumentMetadata): Promise<string> {
    const id = await super.transform(value, metadata);
    // Validated (a missing one is refused): a UUID string.
    return String(id).toLowerCase();
  }
}
