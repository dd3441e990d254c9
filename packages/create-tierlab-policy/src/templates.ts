/**
 * The files of a new policy package, as text. Nothing here touches the
 * disk: {@link renderPolicyPackage} returns path -> contents.
 */

import type { HookName } from './hook-docs.js';
import type { PolicyPackageNames } from './names.js';

export interface RenderOptions {
  /** The doc comment of each hook (default: the installed API's, {@link apiHookDocs}). */
  readonly hookDocs: Readonly<Record<HookName, string>>;
  /** Range of @tierlab/memory-tier-api (peer and dev dependency). */
  readonly apiVersion: string;
  /** Range of @tierlab/policy-testkit (dev dependency). */
  readonly testkitVersion: string;
  /** One line on what the policy does. */
  readonly description: string;
  readonly license: string;
}

function docBlock(docs: Readonly<Record<HookName, string>>, hook: HookName, indent: string): string {
  const lines = docs[hook].split('\n');
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`].join('\n');
}

function packageJson(n: PolicyPackageNames, o: RenderOptions): string {
  const pkg = {
    name: n.packageName,
    version: '0.1.0',
    description: o.description,
    license: o.license,
    keywords: ['tierlab-policy', 'tierlab', 'memory-tiering', 'numa'],
    type: 'module',
    sideEffects: false,
    engines: { node: '>=20' },
    exports: {
      '.': { types: './dist/index.d.ts', import: './dist/index.js' },
      './package.json': './package.json',
    },
    main: './dist/index.js',
    types: './dist/index.d.ts',
    files: ['dist'],
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc --noEmit -p .',
      test: 'vitest run',
      prepublishOnly: 'npm run typecheck && npm test && npm run build',
    },
    peerDependencies: { '@tierlab/memory-tier-api': o.apiVersion },
    devDependencies: {
      '@tierlab/memory-tier-api': o.apiVersion,
      '@tierlab/policy-testkit': o.testkitVersion,
      '@types/node': '^20.19.0',
      typescript: '~5.9.3',
      vitest: '^3.2.4',
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const tsconfig = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      declaration: true,
      sourceMap: true,
      skipLibCheck: true,
      forceConsistentCasingInFileNames: true,
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
  },
  null,
  2,
)}\n`;

const tsconfigBuild = `${JSON.stringify({ extends: './tsconfig.json', exclude: ['src/**/*.test.ts'] }, null, 2)}\n`;

const vitestConfig = `import { defineConfig } from 'vitest/config';

// The conformance kit replays a real capture several times per case: give it time.
export default defineConfig({
  test: { testTimeout: 120_000 },
});
`;

function indexTs(n: PolicyPackageNames, o: RenderOptions): string {
  const d = (hook: HookName) => docBlock(o.hookDocs, hook, '      ');
  return `/**
 * ${n.policyName}: ${o.description}
 *
 * A tierlab memory-tiering policy (policy spec v1). Every hook of the spec is
 * below with its contract; each one starts out doing what the engine does
 * when the hook is absent, so this policy begins as the kernel's default
 * (local placement, reclaim by eviction, no migration). Change the hooks you
 * need; delete the others (an absent hook costs nothing).
 *
 * Rules (the conformance kit checks each):
 * - Time and randomness only from the context: ctx.now(), ctx.random(); never
 *   Date, performance, process.hrtime or Math.random.
 * - State only in the closure of build(): a fresh policy per run, nothing
 *   shared between two policies made by the factory.
 * - A page id is valid from its alloc to its free: forget it in onFree.
 * - Hooks are synchronous; a hook that throws ends this policy's run.
 */

import { type Counter, definePolicy } from '@tierlab/memory-tier-api';

const knobs = {
  preferredTier: {
    type: 'number',
    default: 0,
    description: 'Memory tier new pages are placed on first (0 = the fastest); the zonelist falls back from there',
    kernelName: 'like set_mempolicy(MPOL_PREFERRED) with a node of that tier (mm/mempolicy.c)',
  },
} as const;

export const ${n.exportName} = definePolicy({
  name: '${n.policyName}',
  version: '0.1.0',
  description: ${JSON.stringify(o.description)},
  knobs,
  build: (k) => {
    // Per-run state lives here, in the closure: every run gets its own.
    let placedPreferred: Counter | null = null;

    return {
      // What the policy models; the conformance kit picks its cases from this list
      // (placement, reclaim, promotion, demotion, hint-faults, access-samples,
      // device-memory, metadata, io). Add a capability when you implement it.
      supports: ['placement', 'reclaim'],

      // What the policy observes; absent: no hint faults, no samples, no ticks.
      // observe: { numaHintFaults: { scanDelayMs: 1000 }, tickMs: 1000 },

${d('init')}
      init(ctx) {
        placedPreferred = ctx.counter('placed_preferred_tier', 'pages placed on a node of the preferred tier');
      },

${d('placePage')}
      placePage(ctx, _page, hint) {
        if (ctx.node(hint.localNode).tier === k.preferredTier) return hint.localNode;
        for (const id of ctx.nodesByTier) {
          const node = ctx.node(id);
          if (node.tier === k.preferredTier && node.cpuAccess === 'coherent') {
            placedPreferred?.add(1);
            return id;
          }
        }
        return hint.localNode;
      },

${d('onPlaced')}
      onPlaced(_ctx, _page, _node) {},

${d('onFault')}
      onFault(_ctx, _page, _fault) {},

${d('onAccessSample')}
      onAccessSample(_ctx, _sample) {},

${d('onPressure')}
      onPressure(ctx, node, pagesWanted) {
        ctx.reclaim(node, pagesWanted);
      },

${d('onTick')}
      onTick(_ctx) {},

${d('onIo')}
      onIo(_ctx, _page, _io) {},

${d('onFree')}
      onFree(_ctx, _page) {},

${d('finish')}
      finish(_ctx) {},
    };
  },
});

export default ${n.exportName};
`;
}

function indexTestTs(n: PolicyPackageNames): string {
  return `import { generatedStreams, runPolicy, runPolicyConformance, tieredMachine } from '@tierlab/policy-testkit';
import { describe, expect, it } from 'vitest';
import { ${n.exportName} } from './index.js';

// The tierlab conformance kit: shape and knobs, determinism, capacity and engine
// invariants, page lifetimes, every event kind, no state shared between instances,
// memory pressure, no clock or randomness outside the context, and a case for each
// capability in \`supports\`. It replays a real capture it ships and generated streams.
runPolicyConformance({ describe, it, expect, factory: ${n.exportName} });

describe('${n.policyName}', () => {
  it('places new pages on the preferred tier', () => {
    const { pressure } = generatedStreams();
    const fast = runPolicy({ factory: ${n.exportName}, stream: pressure, machine: tieredMachine(), seed: 1 });
    const slow = runPolicy({ factory: ${n.exportName}, options: { preferredTier: 1 }, stream: pressure, machine: tieredMachine(), seed: 1 });
    const [dram, pmem] = slow.result.nodes;
    expect(pmem!.allocatedPages).toBeGreaterThan(dram!.allocatedPages);
    expect(slow.result.counters['${n.policyName}.placed_preferred_tier']).toBeGreaterThan(0);
    expect(fast.result.counters['${n.policyName}.placed_preferred_tier']).toBe(0);
  });
});
`;
}

function readme(n: PolicyPackageNames, o: RenderOptions): string {
  return `# ${n.packageName}

${o.description}

A tierlab memory-tiering policy: tierlab replays real Linux kernel memory traces through policies like this one and
says, in numbers, which placement design wins on which workload.

## Use it

\`\`\`sh
npm install --save-dev ${n.packageName}
tierlab replay trace.perf-script.txt.zst --machine dram-pmem \\
  --policy first-touch --policy ${n.packageName}:preferredTier=0
\`\`\`

tierlab finds the package in the project you run it from (\`--policy ${n.policyName}\`
works too: tierlab tries \`${n.packageName}\` first).

\`\`\`ts
import { ${n.exportName} } from '${n.packageName}';
const policy = ${n.exportName}({ preferredTier: 1 });
\`\`\`

## Knobs

| knob | default | what | kernel |
|---|---|---|---|
| \`preferredTier\` | 0 | Memory tier new pages are placed on first (0 = the fastest) | like \`set_mempolicy(MPOL_PREFERRED)\` (mm/mempolicy.c) |

## Counters

\`${n.policyName}.placed_preferred_tier\`: pages placed on a node of the preferred tier.

## Develop

\`\`\`sh
npm install
npm test           # the tierlab conformance kit (@tierlab/policy-testkit) and this policy's own tests
npm run typecheck
npm run build      # dist/ for publishing
\`\`\`

\`src/index.ts\` has every hook of policy spec v1 with its contract (when it is
called, what is guaranteed, what it may do, what happens when it is absent).
Time and randomness come only from the context (\`ctx.now()\`, \`ctx.random()\`);
state lives in the closure of \`build()\`.

The conformance kit runs the cases of every capability the policy lists in
\`supports\`: add \`'promotion'\` and the kit checks that hot slow-tier pages get
promoted, \`'demotion'\` that reclaim demotes, and so on.

## Publish

The package keeps the \`tierlab-policy\` keyword and the \`tierlab-policy-\` name
prefix (so it can be found and loaded by name), and @tierlab/memory-tier-api
as a peer dependency (the host's copy is the one that runs).

\`\`\`sh
npm publish
\`\`\`
`;
}

const gitignore = 'node_modules/\ndist/\n*.tgz\n';

/** The files of the package, by path relative to its folder. */
export function renderPolicyPackage(names: PolicyPackageNames, options: RenderOptions): Record<string, string> {
  return {
    'package.json': packageJson(names, options),
    'tsconfig.json': tsconfig,
    'tsconfig.build.json': tsconfigBuild,
    'vitest.config.ts': vitestConfig,
    'README.md': readme(names, options),
    '.gitignore': gitignore,
    'src/index.ts': indexTs(names, options),
    'src/index.test.ts': indexTestTs(names),
  };
}
