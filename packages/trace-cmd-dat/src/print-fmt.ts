/**
 * The few parts of an event's `print fmt` this reader needs to print a value
 * the way `trace-cmd report` does: the `{value, "NAME"}` tables of
 * `__print_flags` / `__print_symbolic` (whose values the kernel writes as C
 * expressions such as `(( gfp_t)((((1UL))) << (10)))`), and the
 * `REC->flags & 0x0001u ? "M" : " "` columns of mm_lru_insertion.
 */

export interface TableEntry {
  /** The value, as a 64-bit unsigned number. */
  readonly value: bigint;
  readonly name: string;
}

export interface PrintTable {
  /** The delimiter of `__print_flags` (`"|"`), '' for `__print_symbolic`. */
  readonly delimiter: string;
  readonly entries: readonly TableEntry[];
}

type Token = { kind: 'num'; value: bigint } | { kind: 'str'; value: string } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

const OPS3 = ['<<=', '>>='];
const OPS2 = ['->', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) {
          const e = text[j + 1]!;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else {
          s += text[j++];
        }
      }
      tokens.push({ kind: 'str', value: s });
      i = j + 1;
    } else if (c >= '0' && c <= '9') {
      const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*/.exec(text.slice(i, i + 40))!;
      const digits = m[1]!;
      const value = digits.length > 1 && digits[0] === '0' && (digits[1] === 'x' || digits[1] === 'X') ? BigInt(digits) : digits.length > 1 && digits[0] === '0' ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
      tokens.push({ kind: 'num', value });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      tokens.push({ kind: 'id', value: text.slice(i, j) });
      i = j;
    } else {
      const three = text.slice(i, i + 3);
      const two = text.slice(i, i + 2);
      const op = OPS3.includes(three) ? three : OPS2.includes(two) ? two : c;
      tokens.push({ kind: 'op', value: op });
      i += op.length;
    }
  }
  return tokens;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Bits kept by a C cast to `type` (unsigned view). */
function castBits(type: readonly string[]): number {
  if (type.includes('*')) return 64;
  const words = type.filter((w) => w !== 'const' && w !== 'volatile');
  if (words.includes('long') || /^(?:__)?[us]64$/.test(words.join(' ')) || words.includes('size_t')) return 64;
  if (words.includes('short') || /^(?:__)?[us]16$/.test(words.join(' '))) return 16;
  if (words.includes('char') || words.includes('bool') || /^(?:__)?[us]8$/.test(words.join(' '))) return 8;
  if (words.includes('int') || /^(?:__)?[us]32$/.test(words.join(' ')) || (words.length === 1 && (words[0] === 'unsigned' || words[0] === 'signed'))) return 32;
  return 64;
}

/** Precedence-climbing evaluator of an integer C expression without identifiers (casts allowed). */
class ExpressionParser {
  private i = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  parse(): bigint {
    const v = this.binary(0);
    if (this.i !== this.tokens.length) throw new Error('trailing tokens');
    return v;
  }

  private static readonly precedence: Readonly<Record<string, number>> = {
    '||': 1,
    '&&': 2,
    '|': 3,
    '^': 4,
    '&': 5,
    '==': 6,
    '!=': 6,
    '<': 7,
    '>': 7,
    '<=': 7,
    '>=': 7,
    '<<': 8,
    '>>': 8,
    '+': 9,
    '-': 9,
    '*': 10,
    '/': 10,
    '%': 10,
  };

  private binary(minPrecedence: number): bigint {
    let left = this.unary();
    for (;;) {
      const t = this.tokens[this.i];
      if (t === undefined || t.kind !== 'op') return left;
      const p = ExpressionParser.precedence[t.value];
      if (p === undefined || p < minPrecedence) return left;
      this.i++;
      const right = this.binary(p + 1);
      left = apply(t.value, left, right);
    }
  }

  private unary(): bigint {
    const t = this.tokens[this.i];
    if (t === undefined) throw new Error('unexpected end');
    if (t.kind === 'op') {
      if (t.value === '~') {
        this.i++;
        return U64(~this.unary());
      }
      if (t.value === '-') {
        this.i++;
        return U64(-this.unary());
      }
      if (t.value === '+') {
        this.i++;
        return this.unary();
      }
      if (t.value === '!') {
        this.i++;
        return this.unary() === 0n ? 1n : 0n;
      }
      if (t.value === '(') {
        const cast = this.castAt(this.i);
        if (cast !== null) {
          this.i = cast.next;
          return BigInt.asUintN(cast.bits, this.unary());
        }
        this.i++;
        const v = this.binary(0);
        const close = this.tokens[this.i];
        if (close === undefined || close.kind !== 'op' || close.value !== ')') throw new Error('missing )');
        this.i++;
        return v;
      }
    }
    if (t.kind === 'num') {
      this.i++;
      return U64(t.value);
    }
    throw new Error(`not a constant: ${t.value}`);
  }

  /** `( type words [*] )` followed by something a cast applies to. */
  private castAt(open: number): { next: number; bits: number } | null {
    const words: string[] = [];
    let j = open + 1;
    for (; j < this.tokens.length; j++) {
      const t = this.tokens[j]!;
      if (t.kind === 'id') words.push(t.value);
      else if (t.kind === 'op' && t.value === '*') words.push('*');
      else break;
    }
    const close = this.tokens[j];
    if (words.length === 0 || close === undefined || close.kind !== 'op' || close.value !== ')') return null;
    const after = this.tokens[j + 1];
    if (after === undefined) return null;
    const startsOperand = after.kind === 'num' || after.kind === 'id' || (after.kind === 'op' && ['(', '~', '-', '!', '+'].includes(after.value));
    return startsOperand ? { next: j + 1, bits: castBits(words) } : null;
  }
}

function apply(op: string, a: bigint, b: bigint): bigint {
  switch (op) {
    case '|':
      return a | b;
    case '^':
      return a ^ b;
    case '&':
      return a & b;
    case '<<':
      return U64(a << b);
    case '>>':
      return a >> b;
    case '+':
      return U64(a + b);
    case '-':
      return U64(a - b);
    case '*':
      return U64(a * b);
    case '/':
      return b === 0n ? 0n : a / b;
    case '%':
      return b === 0n ? 0n : a % b;
    case '==':
      return a === b ? 1n : 0n;
    case '!=':
      return a !== b ? 1n : 0n;
    case '<':
      return a < b ? 1n : 0n;
    case '>':
      return a > b ? 1n : 0n;
    case '<=':
      return a <= b ? 1n : 0n;
    case '>=':
      return a >= b ? 1n : 0n;
    case '&&':
      return a !== 0n && b !== 0n ? 1n : 0n;
    case '||':
      return a !== 0n || b !== 0n ? 1n : 0n;
    default:
      throw new Error(`operator ${op}`);
  }
}

/** Value of a constant C expression (casts, shifts, bit operators), or null when it is not constant. */
export function evaluateConstant(expression: string): bigint | null {
  try {
    return new ExpressionParser(tokenize(expression)).parse();
  } catch {
    return null;
  }
}

/** Index just past the token group that starts at `i` and ends at a top-level `,` `}` or `)`. */
function argumentEnd(tokens: readonly Token[], i: number): number {
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'op') continue;
    if (t.value === '(' || t.value === '{' || t.value === '[') depth++;
    else if (t.value === ')' || t.value === '}' || t.value === ']') {
      if (depth === 0) return i;
      depth--;
    } else if (t.value === ',' && depth === 0) return i;
  }
  return i;
}

function isOp(t: Token | undefined, value: string): boolean {
  return t !== undefined && t.kind === 'op' && t.value === value;
}

/**
 * The table of the `__print_flags(...)` or `__print_symbolic(...)` call whose
 * first argument reads field `field` (`REC->field`), or null. Entries whose
 * value is not a constant or whose name is not a string are left out
 * (the `{ 0, ((void *)0) }` terminator, for one).
 */
export function printTable(printFmt: string, fn: '__print_flags' | '__print_symbolic', field: string): PrintTable | null {
  const tokens = tokenize(printFmt);
  for (let i = 0; i + 1 < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'id' || t.value !== fn || !isOp(tokens[i + 1], '(')) continue;
    const firstEnd = argumentEnd(tokens, i + 2);
    let readsField = false;
    for (let k = i + 2; k + 1 < firstEnd; k++) {
      const a = tokens[k]!;
      const b = tokens[k + 1]!;
      if (a.kind === 'op' && a.value === '->' && b.kind === 'id' && b.value === field) readsField = true;
    }
    if (!readsField) continue;
    let j = firstEnd;
    let delimiter = '';
    if (fn === '__print_flags') {
      if (!isOp(tokens[j], ',')) return null;
      const d = tokens[j + 1];
      if (d === undefined || d.kind !== 'str') return null;
      delimiter = d.value;
      j += 2;
    }
    const entries: TableEntry[] = [];
    while (isOp(tokens[j], ',') && isOp(tokens[j + 1], '{')) {
      const valueStart = j + 2;
      const valueEnd = argumentEnd(tokens, valueStart);
      const nameStart = valueEnd + 1;
      const nameEnd = argumentEnd(tokens, nameStart);
      if (!isOp(tokens[valueEnd], ',') || !isOp(tokens[nameEnd], '}')) return { delimiter, entries };
      const nameToken = tokens[nameStart];
      if (nameEnd === nameStart + 1 && nameToken !== undefined && nameToken.kind === 'str') {
        try {
          const value = new ExpressionParser(tokens.slice(valueStart, valueEnd)).parse();
          entries.push({ value, name: nameToken.value });
        } catch {
          // not a constant: libtraceevent could not print it either
        }
      }
      j = nameEnd + 1;
    }
    return { delimiter, entries };
  }
  return null;
}

/** `__print_flags` as libtraceevent prints it: matching names in table order, the rest as `0x…`. */
export function printFlags(value: bigint, table: PrintTable): string[] {
  const out: string[] = [];
  let rest = value;
  for (const entry of table.entries) {
    const signed = BigInt.asIntN(64, entry.value);
    if (rest === 0n && signed < 0n) {
      out.push(entry.name);
      break;
    }
    if (signed > 0n && (rest & entry.value) === entry.value) {
      out.push(entry.name);
      rest &= ~entry.value;
    }
  }
  if (rest !== 0n) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** One `REC->FIELD & MASK ? "yes" : "no"` column of a print fmt. */
export interface FlagColumn {
  readonly mask: number;
  readonly yes: string;
  readonly no: string;
}

/** The `REC->field & MASK ? "X" : "Y"` columns, in print order. */
export function flagColumns(printFmt: string, field: string): FlagColumn[] {
  const re = new RegExp(`REC->${field}\\s*&\\s*(0[xX][0-9a-fA-F]+|\\d+)[uUlL]*\\s*\\?\\s*"([^"]*)"\\s*:\\s*"([^"]*)"`, 'g');
  const out: FlagColumn[] = [];
  for (const m of printFmt.matchAll(re)) out.push({ mask: Number(m[1]), yes: m[2]!, no: m[3]! });
  return out;
}
