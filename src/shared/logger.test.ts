import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

/**
 * A child process logs through the gateway's stdout logger, then flushes and exits; the test reads
 * what reached its stdout. More than one buffer's worth of lines, with multi-byte text.
 */
function logInChild(script: string): Promise<{ stdout: string; code: number | null }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { createLogger, flushLogger } from ${JSON.stringify(LOGGER)};\n${script}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the logging child did not exit within 20 s'));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ stdout, code });
    });
  });
}

test('every line reaches stdout whole and in order, multi-byte text included, after flushLogger', async () => {
  const { stdout, code } = await logInChild(`
    const logger = createLogger('info');
    for (let i = 0; i < 400; i++) logger.info({ i, text: 'é日本語🙂'.repeat(i % 7) }, 'línea');
    logger.warn({ i: 400 }, 'aviso ⚠');
    for (let i = 401; i < 500; i++) logger.info({ i }, 'línea');
    await flushLogger(logger);
    process.exit(0);
  `);
  assert.equal(code, 0);
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  assert.equal(lines.length, 500);
  lines.forEach((line, i) => {
    const parsed = JSON.parse(line) as { i: number; text?: string; msg: string; level: number };
    assert.equal(parsed.i, i);
    if (i === 400) assert.deepEqual([parsed.level, parsed.msg], [40, 'aviso ⚠']);
    else assert.equal(parsed.msg, 'línea');
    if (i < 400) assert.equal(parsed.text, 'é日本語🙂'.repeat(i % 7));
  });
});

test('a warning is written at once, with the lines before it, without waiting for a flush', async () => {
  // The child never flushes: it exits straight after the warning, so only what the warning
  // pushed out can be on stdout.
  const { stdout, code } = await logInChild(`
    const logger = createLogger('info');
    logger.info({ n: 1 }, 'before');
    logger.warn({ n: 2 }, 'the warning');
    process.exit(0);
  `);
  assert.equal(code, 0);
  const messages = stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  assert.deepEqual(messages, ['before', 'the warning']);
});
