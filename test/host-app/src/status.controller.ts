import { Controller, Get } from '@nestjs/common';
import { Public } from 'nest-jwt-revocation';

/** The host's public route: @Public() opens it despite the global guard. */
@Controller('status')
export class StatusController {
  @Public()
  @Get()
  status(): { ok: true } {
    return { ok: true };
  }
}
