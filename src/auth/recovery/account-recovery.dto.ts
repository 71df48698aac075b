import { IsString, MaxLength } from 'class-validator';
import { ApiField } from '../openapi/swagger.js';
import { EMAIL_MAX_CHARS, NewPassword } from '../accounts/register.dto.js';
import { IsEmailAddress, StorableString } from '../common/validators.js';

/**
 * The token of a link. Only its type and size are validated here: whatever else is wrong with it
 * (malformed, unknown, used, expired, replaced) gets the one answer `Invalid or expired link`.
 */
const TOKEN_MAX_CHARS = 256;

export class EmailDto {
  @ApiField({ format: 'email', maxLength: EMAIL_MAX_CHARS, example: 'ada@example.com' })
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email!: string;
}

export class ResetPasswordDto {
  @ApiField({ maxLength: TOKEN_MAX_CHARS, description: 'The `token` of the link in the mail' })
  @IsString()
  @MaxLength(TOKEN_MAX_CHARS)
  token!: string;

  @NewPassword()
  newPassword!: string;
}

export class VerifyEmailDto {
  @ApiField({ maxLength: TOKEN_MAX_CHARS, description: 'The `token` of the link in the mail' })
  @IsString()
  @MaxLength(TOKEN_MAX_CHARS)
  token!: string;
}
