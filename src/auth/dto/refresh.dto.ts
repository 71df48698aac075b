import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { ApiField } from '../openapi/swagger.js';

export class RefreshDto {
  @ApiField({ minLength: 1, maxLength: 4096, description: 'The refresh token of the latest pair' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  refreshToken!: string;
}
