// What the editor reads of a code node's run: the line of the author's code its error
// names (`tav.sandbox`: "line 5: ZeroDivisionError: division by zero").

/** Error types whose message starts with the line of the code it happened on. */
const WITH_A_LINE: ReadonlySet<string> = new Set(['code_error', 'code_syntax', 'memory_limit'])

/** The 1-based line of the code an error names, or null. */
export function errorLine(error: { type: string; message: string } | null | undefined): number | null {
  if (!error || !WITH_A_LINE.has(error.type)) return null
  const found = /^line (\d+): /.exec(error.message)
  return found ? Number(found[1]) : null
}

/** The one span where `before` and `after` differ: a change that keeps a caret elsewhere
 * on its characters. */
export function changedSpan(before: string, after: string): { from: number; to: number; insert: string } | null {
  if (before === after) return null
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let end = 0
  while (end < before.length - start && end < after.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++
  return { from: start, to: before.length - end, insert: after.slice(start, after.length - end) }
}
