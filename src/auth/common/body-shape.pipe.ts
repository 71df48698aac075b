import { type ArgumentMetadata, BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';

/** The module's request bodies are flat objects of a few fields; this leaves ample room. */
export const MAX_BODY_DEPTH = 8;
export const MAX_BODY_NODES = 1_000;

/**
 * Refuses, before validation, a body nested deeper or holding more values than any of the
 * module's requests can: class-transformer and class-validator recurse, and a small JSON body
 * nested a few thousand levels deep would overflow the stack (a 500). The walk is iterative and
 * stops at the first excess, so its cost is bounded whatever the body.
 */
@Injectable()
export class BodyShapePipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body') return value;
    const stack: Array<[unknown, number]> = [[value, 0]];
    let nodes = 0;
    while (stack.length > 0) {
      const [current, depth] = stack.pop() as [unknown, number];
      if (typeof current !== 'object' || current === null) continue;
      if (depth >= MAX_BODY_DEPTH) throw tooComplex();
      for (const child of Array.isArray(current) ? current : Object.values(current)) {
        nodes += 1;
        if (nodes > MAX_BODY_NODES) throw tooComplex();
        stack.push([child, depth + 1]);
      }
    }
    return value;
  }
}

function tooComplex(): BadRequestException {
  return new BadRequestException('Request body is nested too deeply or has too many fields');
}
