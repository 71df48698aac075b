import { IsString, Matches } from 'class-validator';
import { ApiField } from '../openapi/swagger.js';

export class OidcExchangeDto {
  @ApiField({
    description: 'The one-time code the redirect after the provider carried (60 s, single use)',
    maxLength: 64,
  })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'code must be the code the redirect carried' })
  code!: string;
}
