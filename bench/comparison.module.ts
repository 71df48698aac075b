import { Controller, Get, Inject, Injectable, Module, UnauthorizedException, UseGuards } from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { Repository } from 'typeorm';
import { Public, RevokedTokenEntity, UserEntity } from '../src/auth/index.js';

/**
 * The usual approaches, for comparison only (never part of the module):
 * - "stateless": passport-jwt with a string secret, as most Nest apps have it; cannot revoke;
 * - "naive": the same, plus a denylist and a users query through TypeORM on every request.
 */
export const BENCH_SECRET = Symbol('BENCH_SECRET');

interface Claims {
  sub: string;
  sid: string;
  jti: string;
  iat_ms: number;
}

@Injectable()
class StatelessJwtStrategy extends PassportStrategy(Strategy, 'bench-stateless') {
  constructor(@Inject(BENCH_SECRET) secret: string) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret, algorithms: ['HS256'] });
  }

  validate(payload: Claims) {
    return { userId: payload.sub, sessionId: payload.sid };
  }
}

@Injectable()
class NaiveRevocationStrategy extends PassportStrategy(Strategy, 'bench-naive') {
  constructor(
    @Inject(BENCH_SECRET) secret: string,
    @InjectRepository(RevokedTokenEntity) private readonly revoked: Repository<RevokedTokenEntity>,
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
  ) {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret, algorithms: ['HS256'] });
  }

  async validate(payload: Claims) {
    if (await this.revoked.findOneBy({ jti: payload.jti })) throw new UnauthorizedException('Token has been revoked');
    const user = await this.users.findOneBy({ id: payload.sub });
    if (!user || (user.tokensValidAfter && payload.iat_ms < user.tokensValidAfter.getTime())) {
      throw new UnauthorizedException('Token has been revoked');
    }
    return { userId: payload.sub, sessionId: payload.sid };
  }
}

@Controller('bench')
class ComparisonController {
  @Public()
  @UseGuards(AuthGuard('bench-stateless'))
  @Get('stateless')
  stateless() {
    return { ok: true };
  }

  @Public()
  @UseGuards(AuthGuard('bench-naive'))
  @Get('naive')
  naive() {
    return { ok: true };
  }
}

@Module({
  imports: [TypeOrmModule.forFeature([RevokedTokenEntity, UserEntity])],
  controllers: [ComparisonController],
  providers: [
    { provide: BENCH_SECRET, useFactory: () => process.env.JWT_SECRET },
    StatelessJwtStrategy,
    NaiveRevocationStrategy,
  ],
})
export class ComparisonModule {}
