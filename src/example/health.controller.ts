import { Controller, Get } from '@nestjs/common';
import { Public } from '../auth/index.js';

@Controller('health')
export class HealthController {
  /** Liveness: answers without touching the database. */
  @Public()
  @Get()
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
