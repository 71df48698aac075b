import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/index.js';

@Controller('health')
@ApiTags('example')
export class HealthController {
  /** Liveness: answers without touching the database. */
  @Public()
  @Get()
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } })
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
