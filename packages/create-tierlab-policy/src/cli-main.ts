import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isTierlabError } from '@tierlab/memory-tier-api';
import { createPolicyPackage } from './create.js';
import { policyPackageNames } from './names.js';

export const USAGE = `usage: create-tierlab-policy <name> [--dir <path>] [--api-version <range>] [--description <text>] [--force]
       npm init tierlab-policy <name>      pnpm create tierlab-policy <name>

Writes tierlab-policy-<name> (or @scope/tierlab-policy-<name>): src/index.ts with every
hook of policy spec v1 documented, a README, a vitest test wired to the tierlab
conformance kit (@tierlab/policy-testkit), package.json and tsconfig.`;

export interface CliOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The command, without touching process: argv after the program name, the working directory. */
export function runCreateCommand(argv: readonly string[], cwd: string): CliOutcome {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return { code: 2, stdout: '', stderr: `create-tierlab-policy: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n` };
  }
  const { values, positionals } = parsed;
  if (values.help) return { code: 0, stdout: `${USAGE}\n`, stderr: '' };
  if (positionals.length !== 1) return { code: 2, stdout: '', stderr: `create-tierlab-policy: give one policy name\n${USAGE}\n` };
  const name = positionals[0]!;
  try {
    const names = policyPackageNames(name);
    const dir = resolve(cwd, values.dir ?? names.directory);
    const created = createPolicyPackage(dir, name, {
      ...(values['api-version'] ? { apiVersion: values['api-version'] } : {}),
      ...(values.description ? { description: values.description } : {}),
      force: values.force === true,
    });
    const lines = [
      `Wrote ${created.packageName} (policy '${created.policyName}', export ${created.exportName}) in ${created.dir}:`,
      ...created.files.map((f) => `  ${f}`),
      '',
      'Next:',
      `  cd ${created.dir}`,
      '  npm install',
      '  npm test            # the tierlab conformance kit and the policy tests',
      '',
      `Then, in a project with ${created.packageName} installed:`,
      `  tierlab replay <trace> --policy first-touch --policy ${created.packageName}`,
    ];
    return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
  } catch (error) {
    if (isTierlabError(error)) return { code: 2, stdout: '', stderr: `create-tierlab-policy: ${error.message}\n` };
    return { code: 1, stdout: '', stderr: `create-tierlab-policy: ${error instanceof Error ? error.message : String(error)}\n` };
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'api-version': { type: 'string' },
      description: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
