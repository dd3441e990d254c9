import { runCreateCommand } from './cli-main.js';

const outcome = runCreateCommand(process.argv.slice(2), process.cwd());
process.stdout.write(outcome.stdout);
process.stderr.write(outcome.stderr);
process.exitCode = outcome.code;
