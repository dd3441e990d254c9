/**
 * What the reader takes from an event's `print fmt`: the flag table of a
 * `__print_flags(REC->field, "|", {value, "NAME"}, …)` (values are C
 * constant expressions such as `(( gfp_t)((((1UL))) << (10)))`), and the
 * masks of `REC->flags & 0x0001u ? "M" : " "` columns.
 */

/** One `{value, "NAME"}` entry of a flag table, in print order. */
export interface FlagName {
  readonly value: bigint;
  readonly name: string;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * The flag table that `__print_flags(REC-><field>, …)` prints with, or null
 * when the print fmt has none or one of its values is not a constant
 * expression this evaluator knows.
 */
export function printFlagsTable(printFmt: string, field: string): FlagName[] | null {
  const head = `__print_flags(REC->${field},`;
  let p = printFmt.indexOf(head);
  if (p < 0) return null;
  p += head.length;
  // The delimiter string.
  p = skipSpace(printFmt, p);
  if (printFmt[p] !== '"') return null;
  p = printFmt.indexOf('"', p + 1);
  if (p < 0) return null;
  p = skipSpace(printFmt, p + 1);
  if (printFmt[p] !== ',') return null;
  p++;
  const table: FlagName[] = [];
  for (;;) {
    p = skipSpace(printFmt, p);
    if (printFmt[p] === ')') return table;
    if (printFmt[p] !== '{') return null;
    const comma = topLevelComma(printFmt, p + 1);
    if (comma < 0) return null;
    const valueText = printFmt.slice(p + 1, comma);
    let q = skipSpace(printFmt, comma + 1);
    let name: string | null = null;
    if (printFmt[q] === '"') {
      const close = printFmt.indexOf('"', q + 1);
      if (close < 0) return null;
      name = printFmt.slice(q + 1, close);
      q = close + 1;
    } else {
      // `((void *)0)`: the end of the table.
      const close = matchingClose(printFmt, q);
      if (close < 0) return null;
      q = close;
    }
    q = skipSpace(printFmt, q);
    if (printFmt[q] !== '}') return null;
    p = skipSpace(printFmt, q + 1);
    if (name !== null) {
      const value = evaluateConstant(valueText);
      if (value === null) return null;
      table.push({ value, name });
    }
    if (printFmt[p] === ',') p++;
  }
}

/**
 * Masks of `REC-><field> & MASK ? "X" : "Y"` conditionals, in print order:
 * the letter printed when the bit is set, and the mask.
 */
export function conditionalLetters(printFmt: string, field: string): { letter: string; mask: number }[] {
  const out: { letter: string; mask: number }[] = [];
  const re = new RegExp(`REC->${field} & (0x[0-9a-fA-F]+|[0-9]+)[uUlL]* \\? "([^"]*)" : "([^"]*)"`, 'g');
  for (let m = re.exec(printFmt); m !== null; m = re.exec(printFmt)) {
    out.push({ letter: m[2]!, mask: Number(m[1]!) });
  }
  return out;
}

function skipSpace(s: string, p: number): number {
  while (p < s.length && (s[p] === ' ' || s[p] === '\t' || s[p] === '\n')) p++;
  return p;
}

/** Index of the first ',' at depth 0 from `p` (outside strings), or -1. */
function topLevelComma(s: string, p: number): number {
  let depth = 0;
  for (let i = p; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      if (depth === 0) return -1;
      depth--;
    } else if (c === '"') {
      i = s.indexOf('"', i + 1);
      if (i < 0) return -1;
    } else if (c === ',' && depth === 0) return i;
  }
  return -1;
}

/** Index after the ')' matching the '(' at `p`, or -1. */
function matchingClose(s: string, p: number): number {
  if (s[p] !== '(') return -1;
  let depth = 0;
  for (let i = p; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

// ---- constant expressions ---------------------------------------------------------

type Token = { kind: 'num'; value: bigint } | { kind: 'id'; text: string } | { kind: 'op'; text: string };

const TYPE_WORDS = new Set([
  'unsigned',
  'signed',
  'long',
  'int',
  'short',
  'char',
  'gfp_t',
  'u8',
  'u16',
  'u32',
  'u64',
  's8',
  's16',
  's32',
  's64',
  'size_t',
  'const',
  'volatile',
]);

/** Width in bits of a cast to `words`, or 64 when unknown. */
function castWidth(words: string[]): number {
  if (words.includes('char') || words.includes('u8') || words.includes('s8')) return 8;
  if (words.includes('short') || words.includes('u16') || words.includes('s16')) return 16;
  if (words.includes('long') || words.includes('u64') || words.includes('s64') || words.includes('size_t')) return 64;
  if (words.includes('int') || words.includes('gfp_t') || words.includes('u32') || words.includes('s32')) return 32;
  return words.includes('unsigned') || words.includes('signed') ? 32 : 64;
}

function tokenize(text: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const number = /^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*/.exec(text.slice(i, i + 40));
    if (number !== null) {
      const digits = number[1]!;
      // Octal literals (leading 0) would be read as decimal: refuse them.
      if (digits.length > 1 && digits[0] === '0' && digits[1] !== 'x' && digits[1] !== 'X') return null;
      tokens.push({ kind: 'num', value: BigInt(digits) });
      i += number[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, i + 64));
    if (id !== null) {
      tokens.push({ kind: 'id', text: id[0] });
      i += id[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<<' || two === '>>') {
      tokens.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    if ('()~!|&^+-*/%'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    return null;
  }
  return tokens;
}

const BINARY_PRECEDENCE: Record<string, number> = {
  '*': 10,
  '/': 10,
  '%': 10,
  '+': 9,
  '-': 9,
  '<<': 8,
  '>>': 8,
  '&': 5,
  '^': 4,
  '|': 3,
};

/** The value of a C integer constant expression (casts, ~ ! unary -, arithmetic, shifts, bit ops), as u64; null if unknown. */
export function evaluateConstant(text: string): bigint | null {
  const tokens = tokenize(text);
  if (tokens === null || tokens.length === 0) return null;
  let p = 0;
  const peek = (): Token | undefined => tokens[p];
  const isOp = (t: Token | undefined, op: string): boolean => t !== undefined && t.kind === 'op' && t.text === op;

  const unary = (): bigint | null => {
    const t = peek();
    if (t === undefined) return null;
    if (t.kind === 'num') {
      p++;
      return t.value;
    }
    if (t.kind === 'op' && (t.text === '~' || t.text === '!' || t.text === '-' || t.text === '+')) {
      p++;
      const v = unary();
      if (v === null) return null;
      if (t.text === '~') return ~v & MASK64;
      if (t.text === '!') return v === 0n ? 1n : 0n;
      if (t.text === '-') return -v & MASK64;
      return v;
    }
    if (isOp(t, '(')) {
      // A cast `( unsigned long)` or `(struct x *)`: only type words, then ')'.
      let q = p + 1;
      const words: string[] = [];
      while (q < tokens.length && tokens[q]!.kind === 'id' && TYPE_WORDS.has((tokens[q] as { text: string }).text)) {
        words.push((tokens[q] as { text: string }).text);
        q++;
      }
      if (words.length > 0 && isOp(tokens[q], ')')) {
        p = q + 1;
        const v = unary();
        if (v === null) return null;
        const width = castWidth(words);
        return width >= 64 ? v & MASK64 : v & ((1n << BigInt(width)) - 1n);
      }
      p++;
      const v = binary(0);
      if (v === null || !isOp(peek(), ')')) return null;
      p++;
      return v;
    }
    return null;
  };

  const binary = (minPrecedence: number): bigint | null => {
    let left = unary();
    if (left === null) return null;
    for (;;) {
      const t = peek();
      if (t === undefined || t.kind !== 'op') return left;
      const precedence = BINARY_PRECEDENCE[t.text];
      if (precedence === undefined || precedence < minPrecedence) return left;
      p++;
      const right = binary(precedence + 1);
      if (right === null) return null;
      switch (t.text) {
        case '*':
          left = (left * right) & MASK64;
          break;
        case '/':
          if (right === 0n) return null;
          left = left / right;
          break;
        case '%':
          if (right === 0n) return null;
          left = left % right;
          break;
        case '+':
          left = (left + right) & MASK64;
          break;
        case '-':
          left = (left - right) & MASK64;
          break;
        case '<<':
          left = (left << right) & MASK64;
          break;
        case '>>':
          left = left >> right;
          break;
        case '&':
          left = left & right;
          break;
        case '^':
          left = left ^ right;
          break;
        default:
          left = left | right;
      }
    }
  };

  const value = binary(0);
  return value !== null && p === tokens.length ? value : null;
}
