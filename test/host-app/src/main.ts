import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AuthExceptionsFilter } from 'nest-jwt-revocation';
import { AppModule } from './app.module.js';

const adapter = process.env.HTTP_ADAPTER === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(AppModule, adapter);
// Optional: framework client errors in Nest's shape, and 503 when the database is out, on every route.
app.useGlobalFilters(new AuthExceptionsFilter(app.getHttpAdapter()));
app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
console.log(`host-app listening on ${await app.getUrl()} (${process.env.HTTP_ADAPTER ?? 'express'})`);
