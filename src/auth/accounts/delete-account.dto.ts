import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH } from './register.dto.js';
import { ApiField } from '../openapi/swagger.js';

export class DeleteAccountDto {
  /**
   * The current password, checked (and throttled) like a login. An account without one (made by a
   * sign-in at another provider) gives none: a recent authentication is asked for instead.
   */
  @ApiField({
    minLength: 1,
    maxLength: PASSWORD_MAX_LENGTH,
    format: 'password',
    required: false,
    description: 'The current password (required when the account has one)',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password?: string;
}
