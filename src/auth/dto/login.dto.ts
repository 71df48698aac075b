import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { MAX_DEVICE_NAME_CHARS } from '../client-address.js';
import { EMAIL_MAX_CHARS, PASSWORD_MAX_LENGTH } from './register.dto.js';
import { IsEmailAddress, StorableString } from './validators.js';

export class LoginDto {
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  @IsEmailAddress({ message: 'email must be a valid email address' })
  email!: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;

  @IsOptional()
  @IsString()
  @StorableString(MAX_DEVICE_NAME_CHARS)
  deviceName?: string;
}
