import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule, JwtAuthGuard } from 'nest-jwt-revocation';
import { AuditLog } from './audit-log.js';
import { databaseOptions } from './database.js';
import { HeartbeatController, HeartbeatJob } from './heartbeat.js';
import { Note } from './notes/note.entity.js';
import { NotesController } from './notes/notes.controller.js';
import { StatusController } from './status.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    ScheduleModule.forRoot(), // the host's own jobs; the module brings no second scheduler
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => databaseOptions(config.getOrThrow<string>('DATABASE_URL')),
    }),
    TypeOrmModule.forFeature([Note]),
    AuthModule.forRootAsync({
      routePrefix: 'auth', // known when the module is declared; default 'auth'
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        secret: config.getOrThrow<string>('JWT_SECRET'), // ≥ 32 bytes, refused otherwise
        keyEncryptionSecret: config.getOrThrow<string>('KEY_ENCRYPTION_SECRET'), // keys rotated by the CLI
        accessTokenTtl: 900,
        refreshTokenTtl: 1_209_600,
        sessionMaxAge: 2_592_000,
        refreshReuseGrace: 10,
        purgeCron: '*/10 * * * *',
        securityEvents: new AuditLog(),
      }),
    }),
  ],
  controllers: [NotesController, StatusController, HeartbeatController],
  // Every route needs a valid access token unless marked @Public().
  providers: [{ provide: APP_GUARD, useClass: JwtAuthGuard }, HeartbeatJob],
})
export class AppModule {}
