import { Module } from '@nestjs/common';
import { JwksController } from './jwks.controller.js';

/** Mounts the JWKS route beside AuthModule, outside its route prefix. */
@Module({ controllers: [JwksController] })
export class JwksModule {}
