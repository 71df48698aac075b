import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { NewPassword, PASSWORD_MAX_LENGTH } from './register.dto.js';
import { ApiField } from '../openapi/swagger.js';

export class ChangePasswordDto {
  @ApiField({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, format: 'password' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(PASSWORD_MAX_LENGTH)
  currentPassword!: string;

  @NewPassword()
  newPassword!: string;
}
