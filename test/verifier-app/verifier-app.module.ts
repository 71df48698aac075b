import { Controller, type DynamicModule, Get, Module, Post } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  type AuthenticatedUser,
  AuthVerifierModule,
  CurrentUser,
  JwtAuthGuard,
  Public,
  RequireRecentAuth,
  RequireSecondFactor,
  Roles,
  StrictRevocationCheck,
} from '../../src/auth/index.js';

/** Another service behind the auth server: its own routes, guarded by the verify-only module. */
@Controller()
class OrdersController {
  @Public()
  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @Get('orders')
  orders(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.userId, sessionId: user.sessionId, orders: [] };
  }

  @StrictRevocationCheck()
  @Get('orders/export')
  exportOrders(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.userId, exported: 0 };
  }

  /** Only for a session that showed two factors. */
  @RequireSecondFactor()
  @Get('orders/secure')
  secureOrders(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.userId, orders: [] };
  }

  /** Only for the back office: users with the `support` or `admin` role. */
  @Roles('support', 'admin')
  @Get('orders/all')
  allOrders(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.userId, roles: user.roles, orders: [] };
  }

  /** Only within five minutes of the last sign-in or re-authentication. */
  @RequireRecentAuth(300)
  @Post('orders/refund')
  refund(@CurrentUser() user: AuthenticatedUser) {
    return { userId: user.userId, refunded: true };
  }
}

export interface VerifierAppOptions {
  /** The auth server's database (revocation state; and the public keys unless `jwksUrl`). */
  databaseUrl: string;
  /** The auth server's JWKS URL; absent: public keys from signing_keys. */
  jwksUrl?: string;
  /** Must match the auth server's. */
  accessTokenTtl?: number;
  /** A direct connection for the listener when `databaseUrl` goes through a transaction-mode pooler. */
  databaseListenUrl?: string;
}

/**
 * The verify-only service of the tests and of `npm run bench:propagation`: imports the module as
 * another team's service would, with no login routes, no secret and no private key.
 */
@Module({})
export class VerifierAppModule {
  static forRoot(options: VerifierAppOptions): DynamicModule {
    return {
      module: VerifierAppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.databaseUrl,
          synchronize: false,
          connectTimeoutMS: 5_000,
          logging: false,
        }),
        AuthVerifierModule.forRoot({
          jwksUrl: options.jwksUrl,
          accessTokenTtl: options.accessTokenTtl,
          revocationListenerUrl: options.databaseListenUrl,
        }),
      ],
      controllers: [OrdersController],
      providers: [{ provide: APP_GUARD, useClass: JwtAuthGuard }],
    };
  }
}
