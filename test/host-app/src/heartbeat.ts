import { Controller, Get, Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { Public } from 'nest-jwt-revocation';

/** A job of the host's own, beside the module's purge: it must run once per tick, not twice. */
@Injectable()
export class HeartbeatJob {
  static readonly EVERY_MS = 50;
  readonly runs: number[] = [];

  @Interval('heartbeat', HeartbeatJob.EVERY_MS)
  beat(): void {
    if (this.runs.length < 100) this.runs.push(performance.now());
  }
}

@Controller('status/heartbeat')
export class HeartbeatController {
  constructor(private readonly job: HeartbeatJob) {}

  /** How many runs so far, and the time from the first to the tenth (null before ten). */
  @Public()
  @Get()
  heartbeat(): { everyMs: number; runs: number; firstToTenthMs: number | null } {
    const { runs } = this.job;
    return {
      everyMs: HeartbeatJob.EVERY_MS,
      runs: runs.length,
      firstToTenthMs: runs.length >= 10 ? runs[9] - runs[0] : null,
    };
  }
}
