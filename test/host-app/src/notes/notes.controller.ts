import { Body, Controller, Get, Post } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type AuthenticatedUser, CurrentUser } from 'nest-jwt-revocation';
import { CreateNoteDto } from './create-note.dto.js';
import { Note } from './note.entity.js';

/** The host's own guarded routes: the global JwtAuthGuard lets only a signed-in user in. */
@Controller('notes')
export class NotesController {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  @Get()
  list(@CurrentUser() user: AuthenticatedUser): Promise<Note[]> {
    return this.notes.find({ where: { ownerId: user.userId }, order: { createdAt: 'ASC' } });
  }

  @Post()
  create(@CurrentUser() user: AuthenticatedUser, @Body() body: CreateNoteDto): Promise<Note> {
    return this.notes.save(this.notes.create({ ownerId: user.userId, text: body.text }));
  }
}
