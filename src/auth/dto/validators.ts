import { ValidateBy, type ValidationOptions } from 'class-validator';
import { codePointLength } from '../client-address.js';

/**
 * At most `max` characters as PostgreSQL counts them (code points), and no NUL, which PostgreSQL
 * text cannot hold. class-validator's MaxLength counts differently (it discounts variation
 * selectors), so a string it accepts could overflow a varchar(n) column and fail as a 500.
 */
export function StorableString(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'storableString',
      constraints: [max],
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && !value.includes('\u0000') && codePointLength(value) <= max,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be at most ${max} characters, without NUL characters`,
      },
    },
    options,
  );
}
