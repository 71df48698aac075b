import type * as Swagger from '@nestjs/swagger';

/**
 * @nestjs/swagger is an optional peer: when the host has it, the module's routes and bodies are
 * described for its OpenAPI document; without it, these decorators do nothing and the module
 * works the same. Any failure other than "not installed" is a real error and is not hidden.
 */
export const swagger: typeof Swagger | null = await import('@nestjs/swagger').catch((error: unknown) => {
  const notInstalled =
    (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(error).includes("'@nestjs/swagger'");
  if (notInstalled) return null;
  throw error;
});

type PropertyOptions = NonNullable<Parameters<typeof Swagger.ApiProperty>[0]>;

/** What the decorators become without @nestjs/swagger. */
export const nothing = () => {};

/** Describes a body or response property (ApiProperty); nothing without @nestjs/swagger. */
export function ApiField(options: PropertyOptions): PropertyDecorator {
  return swagger ? swagger.ApiProperty(options) : nothing;
}

/** Groups a controller's routes under a tag of the document. */
export function ApiArea(tag: string): ClassDecorator {
  return swagger ? swagger.ApiTags(tag) : nothing;
}
