import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiField } from '../openapi/swagger.js';

export class RefreshDto {
  /** Required with bearer transport; with cookie transport the refresh cookie is used instead. */
  @ApiField({
    required: false,
    minLength: 1,
    maxLength: 4096,
    description: 'The refresh token of the latest pair (bearer transport; cookie transport sends `{}`)',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(4096)
  refreshToken?: string;
}
