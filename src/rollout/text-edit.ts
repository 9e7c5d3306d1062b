import { isMap, isScalar, isSeq, stringify, type Document, type Node, type Pair, type YAMLMap } from 'yaml';

/**
 * Edits of a YAML file's text at the places its parsed Document says, leaving every other byte
 * alone. Re-serialising the Document (`doc.toString()`) would keep comments and order too, but it
 * re-renders the whole file in its own style (`{a: 1}` for prettier's `{ a: 1 }`, a comment after
 * `health:` moved to the next line), so the diff of a one-number rollout would touch lines nobody
 * changed. The caller checks the result by parsing it again.
 */
export class TextEditor {
  private readonly edits: { start: number; end: number; text: string }[] = [];
  readonly newline: string;

  constructor(readonly source: string) {
    this.newline = source.includes('\r\n') ? '\r\n' : '\n';
  }

  replace(start: number, end: number, text: string): void {
    this.edits.push({ start, end, text });
  }

  /** The source with every edit applied; edits must not overlap. */
  result(): string {
    const ordered = [...this.edits].sort((a, b) => b.start - a.start || b.end - a.end);
    let text = this.source;
    let limit = Infinity;
    for (const edit of ordered) {
      if (edit.end > limit) throw new Error('overlapping edits');
      text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
      limit = edit.start;
    }
    return text;
  }

  lineStart(offset: number): number {
    return this.source.lastIndexOf('\n', offset - 1) + 1;
  }

  /** The end (before the line break) of the line holding the last non-blank character before `end`. */
  lastLineEnd(end: number): number {
    let last = end;
    while (last > 0 && /\s/.test(this.source[last - 1]!)) last--;
    const lineBreak = this.source.indexOf('\n', last);
    const stop = lineBreak === -1 ? this.source.length : lineBreak;
    return this.source[stop - 1] === '\r' ? stop - 1 : stop;
  }

  /** Just past the line break ending the line that holds `offset` (or the end of the text). */
  nextLineStart(offset: number): number {
    const lineBreak = this.source.indexOf('\n', offset);
    return lineBreak === -1 ? this.source.length : lineBreak + 1;
  }

  /** The text between a line's start and `offset`, e.g. the indentation of a key or `      - `. */
  prefixOf(offset: number): string {
    return this.source.slice(this.lineStart(offset), offset);
  }
}

export class UneditableError extends Error {}

/** One line of flow YAML for a value, in the style prettier writes: `{ a: 1 }`, `[a, b]`, `'1'`. */
export function flowText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flowText).join(', ')}]`;
  return stringify(value, {
    collectionStyle: 'flow',
    flowCollectionPadding: true,
    singleQuote: true,
    lineWidth: 0,
  }).trimEnd();
}

function rangeOf(node: Node | null | undefined, what: string): [number, number] {
  if (!node?.range) throw new UneditableError(`${what} has no position in the file`);
  return [node.range[0], node.range[1]];
}

/** The block mapping at `path`, refusing flow mappings, whose pairs do not sit on lines of their own. */
export function blockMap(doc: Document, path: readonly string[]): YAMLMap {
  const node = doc.getIn(path, true);
  if (!isMap(node)) throw new UneditableError(`${path.join('.')} is not a mapping`);
  if (node.flow) {
    throw new UneditableError(
      `${path.join('.')} is written as a { flow } mapping; rollout edits block mappings`,
    );
  }
  return node;
}

export function pairOf(map: YAMLMap, key: string): Pair<Node, Node> | undefined {
  return (map.items as Pair<Node, Node>[]).find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/** Replaces a scalar's text (e.g. a weight), keeping everything around it. */
export function setScalar(editor: TextEditor, node: unknown, text: string, what: string): void {
  if (!isScalar(node)) throw new UneditableError(`${what} is not a plain value`);
  const [start, end] = rangeOf(node, what);
  editor.replace(start, end, text);
}

/** The lines from the pair's key to the end of its value (trailing comment included), line break too. */
function pairLines(editor: TextEditor, pair: Pair<Node, Node>, what: string): [number, number] {
  const [keyStart] = rangeOf(pair.key, what);
  const [, valueEnd] = rangeOf(pair.value ?? pair.key, what);
  return [editor.lineStart(keyStart), editor.nextLineStart(editor.lastLineEnd(valueEnd))];
}

/**
 * Writes `key: <value>` in place of an existing pair, or on new lines after the pair `after`. A
 * string value is one flow line; a list of lines is a block value, each line indented under the key.
 */
export function putPair(
  editor: TextEditor,
  map: YAMLMap,
  key: string,
  value: string | readonly string[],
  after: string,
  comment = '',
): void {
  const existing = pairOf(map, key);
  const anchor = existing ?? pairOf(map, after);
  if (!anchor) throw new UneditableError(`neither ${key} nor ${after} is in the mapping`);
  const indent = editor.prefixOf(rangeOf(anchor.key, key)[0]);
  if (!/^ *$/.test(indent)) throw new UneditableError(`${key} does not start its own line`);
  const trailer = comment ? ` # ${comment}` : '';
  const lines =
    typeof value === 'string'
      ? [`${indent}${key}: ${value}${trailer}`]
      : [`${indent}${key}:${trailer}`, ...value.map((line) => `${indent}  ${line}`)];
  const text = lines.join(editor.newline);
  if (existing) {
    const [start, end] = pairLines(editor, existing, key);
    editor.replace(start, end, `${text}${editor.newline}`);
  } else {
    const end = editor.lastLineEnd(rangeOf(anchor.value ?? anchor.key, after)[1]);
    editor.replace(end, end, `${editor.newline}${text}`);
  }
}

export function removePair(editor: TextEditor, map: YAMLMap, key: string): void {
  const pair = pairOf(map, key);
  if (!pair) return;
  const [start, end] = pairLines(editor, pair, key);
  editor.replace(start, end, '');
}

/**
 * Adds an item to the sequence under `key`: a block sequence gets a new `- ` line after its last
 * item, a flow one is rewritten as one flow line, and an empty or missing one becomes a block
 * sequence (created after the pair `after`).
 */
export function appendItem(
  editor: TextEditor,
  map: YAMLMap,
  key: string,
  items: readonly unknown[],
  item: unknown,
  after: string,
): void {
  const pair = pairOf(map, key);
  const seq = pair?.value;
  if (isSeq(seq) && !seq.flow && seq.items.length > 0) {
    const last = seq.items[seq.items.length - 1] as Node;
    const [lastStart, lastEnd] = rangeOf(last, `the last item of ${key}`);
    const dash = editor.prefixOf(lastStart);
    if (!/^\s*- $/.test(dash)) throw new UneditableError(`cannot find the "- " of the last item of ${key}`);
    const end = editor.lastLineEnd(lastEnd);
    editor.replace(end, end, `${editor.newline}${dash}${flowText(item)}`);
    return;
  }
  if (isSeq(seq) && seq.flow && seq.items.length > 0) {
    putPair(editor, map, key, flowText([...items, item]), key);
    return;
  }
  putPair(editor, map, key, [`- ${flowText(item)}`], pair ? key : after);
}

/** Removes item `index` of the sequence under `key`: its lines in a block sequence, else a rewrite. */
export function removeItem(
  editor: TextEditor,
  map: YAMLMap,
  key: string,
  items: readonly unknown[],
  index: number,
): void {
  const pair = pairOf(map, key);
  const seq = pair?.value;
  if (!pair || !isSeq(seq)) throw new UneditableError(`${key} is not a sequence`);
  if (!seq.flow && seq.items.length > 1) {
    const [start, end] = rangeOf(seq.items[index] as Node, `${key} item ${index}`);
    const lineEnd = editor.lastLineEnd(end);
    if (index === seq.items.length - 1) {
      // The last item goes with the line break before it, so its line end stays the end of the
      // sequence: a pair put after `key` in the same edit lands there (see putPair), not inside it.
      const lineStart = editor.lineStart(start);
      const breakStart = editor.source[lineStart - 2] === '\r' ? lineStart - 2 : lineStart - 1;
      editor.replace(breakStart, lineEnd, '');
    } else {
      editor.replace(editor.lineStart(start), editor.nextLineStart(lineEnd), '');
    }
    return;
  }
  putPair(editor, map, key, flowText(items.filter((_, i) => i !== index)), key);
}

/**
 * Inserts an item into the block sequence under `key` right after item `index`, as a `- ` line of
 * its own; its users see the new line in the diff and nothing else moves.
 */
export function insertItem(
  editor: TextEditor,
  map: YAMLMap,
  key: string,
  index: number,
  item: unknown,
): void {
  const seq = pairOf(map, key)?.value;
  if (!isSeq(seq) || seq.flow) {
    throw new UneditableError(`${key} is not a block sequence (one "- " line per item); edit it by hand`);
  }
  const [start, end] = rangeOf(seq.items[index] as Node, `${key} item ${index}`);
  const dash = editor.prefixOf(start);
  if (!/^\s*- $/.test(dash)) throw new UneditableError(`cannot find the "- " of ${key} item ${index}`);
  const at = editor.lastLineEnd(end);
  editor.replace(at, at, `${editor.newline}${dash}${flowText(item)}`);
}
