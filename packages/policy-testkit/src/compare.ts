/**
 * The first differences between two results, as `path: a ≠ b` lines, so a
 * failure says what differs instead of dumping two JSON documents.
 */
export function differences(a: unknown, b: unknown, limit = 5): string[] {
  const out: string[] = [];
  walk(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)), '', out, limit);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  if (Object.is(a, b)) return;
  const bothObjects = typeof a === 'object' && a !== null && typeof b === 'object' && b !== null;
  if (bothObjects && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) out.push(`${path || '(root)'}.length: ${a.length} ≠ ${b.length}`);
      for (let i = 0; i < Math.min(a.length, b.length) && out.length < limit; i++) walk(a[i], b[i], `${path}[${i}]`, out, limit);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])];
    for (const key of keys) {
      if (out.length >= limit) return;
      walk(ao[key], bo[key], path === '' ? key : `${path}.${key}`, out, limit);
    }
    return;
  }
  out.push(`${path || '(root)'}: ${show(a)} ≠ ${show(b)}`);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return 'undefined';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
