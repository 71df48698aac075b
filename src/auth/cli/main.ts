#!/usr/bin/env node
/**
 * `npx nest-jwt-revocation <command>`: the operator commands in a host app, with only the package
 * installed. Arguments and environment are checked before anything heavy loads, so a typo is
 * answered at once (one line, exit code 2); Nest, TypeORM and the module load only to run a command.
 */
import 'reflect-metadata';
import { CLI_COMMANDS_HELP, CliUsageError, consoleOutput, parseCliCommand, type CliCommand } from './cli-commands.js';
import {
  OPERATOR_ENVIRONMENT_HELP,
  OperatorEnvironmentError,
  readOperatorEnvironment,
  type OperatorEnvironment,
} from './operator-environment.js';

const NAME = 'nest-jwt-revocation';
const HELP = `Usage: ${NAME} <command>\n\n${CLI_COMMANDS_HELP}\n\n${OPERATOR_ENVIRONMENT_HELP}\n\nExit codes: 0 done, 1 refused or failed (unknown user, database down), 2 wrong invocation or environment.`;

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0])) {
    consoleOutput.out(HELP);
    return 0;
  }
  let command: CliCommand;
  let environment: OperatorEnvironment;
  try {
    command = parseCliCommand(argv);
    environment = readOperatorEnvironment(process.env, command);
  } catch (error) {
    if (!(error instanceof CliUsageError) && !(error instanceof OperatorEnvironmentError)) throw error;
    consoleOutput.err(`${NAME}: ${error.message} (${NAME} --help tells more)`);
    return 2;
  }
  const [{ NestFactory }, { operatorModule }] = await Promise.all([
    import('@nestjs/core'),
    import('./operator.module.js'),
  ]);
  let app;
  try {
    app = await NestFactory.createApplicationContext(operatorModule(environment), {
      logger: ['error', 'warn'],
      abortOnError: false,
    });
  } catch (error) {
    consoleOutput.err(`${NAME}: could not start: ${(error as Error).message}`);
    return 1;
  }
  try {
    return await command.run(app, consoleOutput, {
      keyLifetimesKnown: environment.accessTokenTtl !== undefined && environment.refreshTokenTtl !== undefined,
      rotationAlgorithm: environment.algorithm,
      newKeyEncryptionSecret: environment.newKeyEncryptionSecret,
    });
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    consoleOutput.err(`${NAME}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
