// Preloaded with `node --import`: a process that loads ONNX Runtime (onnxruntime-node or its
// onnxruntime-common) fails, naming the module that asked for it. Two checks, since either way in
// alone could be missed: a resolve hook refuses every ESM import of the packages (how
// runtimes/onnx/session.ts loads it), and at exit the CommonJS cache (where the CommonJS package
// lands, however it was reached) must hold none of their files.
import { createRequire, register } from 'node:module';
import process from 'node:process';

const FORBIDDEN = /(^|[/\\])onnxruntime-(node|common)([/\\]|$)/;

const hooks = `
const FORBIDDEN = ${FORBIDDEN};
export async function resolve(specifier, context, next) {
  if (FORBIDDEN.test(specifier))
    throw new Error('onnxruntime is forbidden in this process: ' + specifier + ' imported by ' + context.parentURL);
  const resolved = await next(specifier, context);
  if (FORBIDDEN.test(resolved.url))
    throw new Error('onnxruntime is forbidden in this process: ' + resolved.url + ' imported by ' + context.parentURL);
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const loaded = Object.keys(require.cache).filter((path) => FORBIDDEN.test(path));
  if (loaded.length === 0) return;
  process.stderr.write(`onnxruntime is forbidden in this process, but loaded: ${loaded.join(', ')}\n`);
  process.exitCode = 86;
});
