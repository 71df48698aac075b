import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { MAX_DEVICE_NAME_CHARS } from '../common/client-address.js';
import { EMAIL_MAX_CHARS, PASSWORD_MAX_LENGTH } from '../accounts/register.dto.js';
import { IsEmailAddress, StorableString } from '../common/validators.js';
import { ApiField } from '../openapi/swagger.js';

export class LoginDto {
  @ApiField({ format: 'email', maxLength: EMAIL_MAX_CHARS, example: 'ada@example.com' })
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email!: string;

  @ApiField({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;

  @ApiField({
    required: false,
    maxLength: MAX_DEVICE_NAME_CHARS,
    description: 'Shown in the device list; derived from the user agent when absent',
    example: 'Ada’s laptop',
  })
  @IsOptional()
  @IsString()
  @StorableString(MAX_DEVICE_NAME_CHARS)
  deviceName?: string;
}
