/**
 * Whether JSON text nests arrays and objects more than `maxDepth` levels deep (`{}` and `[]` are
 * one level, `{"a":[1]}` two), found by one pass over the text before it is parsed.
 *
 * Why before parsing, and why a scan: V8's JSON.parse builds any depth without complaint, but
 * JSON.stringify, structuredClone and every recursive walk of the value (shape checks, hashing,
 * the shadow's batch key, the prediction log) overflow the stack somewhere past a few thousand
 * levels, each in its own place and some in callbacks nothing catches. Refusing the text once
 * here bounds them all. A JSON.parse reviver cannot do it: it is called bottom-up, after the
 * whole tree is built, is told nothing of depth (a second walk would have to work it out), and
 * makes parsing several times slower for every body. The scan allocates nothing, costs one
 * comparison or two per character, and stops at the first level over the limit.
 *
 * It only counts: text that is not JSON is left to JSON.parse to refuse. Brackets inside strings
 * do not count; a backslash in a string escapes the character after it (RFC 8259 §7), so `"\""`
 * does not end the string and `"\\"` does.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  // RegExp#test finds the next bracket or quote natively, past runs of digits, and allocates
  // nothing (exec would make a match array each time): 3–5× faster than a charCodeAt loop on
  // numeric tensor data, as fast on small bodies (bench/json-depth-scan.ts). The regex's
  // lastIndex is its cursor; nothing can run between its calls here, so sharing it is safe.
  const special = SPECIAL;
  special.lastIndex = 0;
  while (special.test(text)) {
    const at = special.lastIndex - 1;
    const c = text.charCodeAt(at);
    if (c === QUOTE) {
      const end = closingQuote(text, at);
      if (end === -1) return false; // an unterminated string: not JSON, JSON.parse refuses it
      special.lastIndex = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else {
      depth--;
    }
  }
  return false;
}

/** Brackets, braces and quotes: all the scan looks at. */
const SPECIAL = /["[\]{}]/g;

/** Where the string opened at `open` ends: the next quote not escaped by an odd run of backslashes. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACE = 0x7b; // {
const OPEN_BRACKET = 0x5b; // [
