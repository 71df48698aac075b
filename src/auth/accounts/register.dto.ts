import { applyDecorators } from '@nestjs/common';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { IsEmailAddress, StorableString, WellFormedText } from '../common/validators.js';
import { ApiField } from '../openapi/swagger.js';

export const PASSWORD_MIN_LENGTH = 8;
/** Upper bound before hashing, so that a huge password cannot make the hash a denial of service. */
export const PASSWORD_MAX_LENGTH = 256;
/** users.email is varchar(254), the longest address SMTP allows. */
export const EMAIL_MAX_CHARS = 254;

/** A password being set (registration, change, reset): the policy's length, and well-formed text. */
export function NewPassword(): PropertyDecorator {
  return applyDecorators(
    ApiField({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' }),
    IsString(),
    MinLength(PASSWORD_MIN_LENGTH),
    MaxLength(PASSWORD_MAX_LENGTH),
    WellFormedText(),
  );
}

export class RegisterDto {
  @ApiField({ format: 'email', maxLength: EMAIL_MAX_CHARS, example: 'ada@example.com' })
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email!: string;

  @NewPassword()
  password!: string;
}
