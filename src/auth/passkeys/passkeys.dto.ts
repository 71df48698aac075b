import { IsNotEmpty, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { EMAIL_MAX_CHARS } from '../accounts/register.dto.js';
import { IsEmailAddress } from '../common/validators.js';
import { MAX_DEVICE_NAME_CHARS } from '../common/client-address.js';
import { StorableString } from '../common/validators.js';
import { ApiField } from '../openapi/swagger.js';

export class RegisterPasskeyDto {
  @ApiField({
    type: 'object',
    additionalProperties: true,
    description: 'What `navigator.credentials.create()` answered, as JSON (RegistrationResponseJSON)',
  })
  @IsObject()
  response!: Record<string, unknown>;

  @ApiField({ required: false, maxLength: MAX_DEVICE_NAME_CHARS, example: 'Ada’s phone' })
  @IsOptional()
  @IsString()
  @StorableString(MAX_DEVICE_NAME_CHARS)
  name?: string;
}

export class RenamePasskeyDto {
  @ApiField({ minLength: 1, maxLength: MAX_DEVICE_NAME_CHARS, example: 'Work laptop' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_DEVICE_NAME_CHARS)
  @StorableString(MAX_DEVICE_NAME_CHARS)
  name!: string;
}

export class PasskeyLoginOptionsDto {
  @ApiField({
    required: false,
    format: 'email',
    maxLength: EMAIL_MAX_CHARS,
    description: 'Limits the options to this account’s passkeys; without it, any passkey of this site (autofill)',
  })
  @IsOptional()
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email?: string;
}

export class PasskeyAnswerDto {
  @ApiField({
    type: 'object',
    additionalProperties: true,
    description: 'What `navigator.credentials.get()` answered, as JSON (AuthenticationResponseJSON)',
  })
  @IsObject()
  response!: Record<string, unknown>;
}
