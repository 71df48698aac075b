import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH } from './register.dto.js';
import { ApiField } from '../openapi/swagger.js';

export class DeleteAccountDto {
  /** The current password, checked (and throttled) like a login. */
  @ApiField({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password', description: 'The current password' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  password!: string;
}
