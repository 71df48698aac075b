import { applyDecorators } from '@nestjs/common';
import { IsNotEmpty, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { ApiField } from '../openapi/swagger.js';

/** Longest code read: six digits, with the spaces some apps show, and room for a paste's slack. */
export const MAX_CODE_CHARS = 32;
/** Longest recovery code read (16 characters as shown, with hyphens and spaces typed or pasted). */
export const MAX_RECOVERY_CODE_CHARS = 64;
/** mfaTokens are 43 characters (32 random bytes, base64url). */
export const MAX_MFA_TOKEN_CHARS = 128;

/** A code from the authenticator app, in any body that takes one. */
export function CodeField(required: boolean): PropertyDecorator {
  const checks = [IsString(), IsNotEmpty(), MaxLength(MAX_CODE_CHARS)];
  return applyDecorators(
    ApiField({
      required,
      minLength: 1,
      maxLength: MAX_CODE_CHARS,
      example: '123456',
      description: 'The six digits the authenticator app shows now',
    }),
    ...(required ? checks : [IsOptional(), ...checks]),
  );
}

export class TotpCodeDto {
  @CodeField(true)
  code!: string;
}

/** `POST /auth/login/mfa`: the mfaToken, and either `code` or `recoveryCode`. */
export class LoginMfaDto {
  @ApiField({
    minLength: 1,
    maxLength: MAX_MFA_TOKEN_CHARS,
    description: 'From the login answer `{mfaRequired: true, mfaToken}`',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_MFA_TOKEN_CHARS)
  mfaToken!: string;

  @CodeField(false)
  code?: string;

  @ApiField({
    required: false,
    maxLength: MAX_RECOVERY_CODE_CHARS,
    example: 'a2b3-c4d5-e6f7-g8h9',
    description: 'One of the recovery codes (each works once)',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_RECOVERY_CODE_CHARS)
  recoveryCode?: string;

  @ApiField({
    required: false,
    type: Object,
    description: 'What `navigator.credentials.get()` answered to the options of POST /auth/login/mfa/passkey-options',
  })
  @IsOptional()
  @IsObject()
  passkey?: Record<string, unknown>;
}

export class MfaTokenDto {
  @ApiField({ minLength: 1, maxLength: MAX_MFA_TOKEN_CHARS, description: 'From the login answer' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_MFA_TOKEN_CHARS)
  mfaToken!: string;
}

/** Longest otpauth URL drawn: the secret, an issuer and an email address fit many times over. */
export const MAX_OTPAUTH_URL_CHARS = 2048;

export class QrCodeDto {
  @ApiField({ maxLength: MAX_OTPAUTH_URL_CHARS, description: 'The `otpauthUrl` of POST /auth/mfa/totp/setup' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(MAX_OTPAUTH_URL_CHARS)
  otpauthUrl!: string;
}
