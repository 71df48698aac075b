import { IsNotEmpty, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH } from '../accounts/register.dto.js';
import { CodeField } from '../mfa/mfa.dto.js';
import { ApiField } from '../openapi/swagger.js';

/** `POST /auth/reauthenticate`: the password, or a code from the authenticator app. */
export class ReauthenticateDto {
  @ApiField({ required: false, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password?: string;

  @CodeField(false)
  code?: string;

  @ApiField({
    required: false,
    type: Object,
    description:
      'What `navigator.credentials.get()` answered to the options of POST /auth/reauthenticate/passkey-options',
  })
  @IsOptional()
  @IsObject()
  passkey?: Record<string, unknown>;
}
