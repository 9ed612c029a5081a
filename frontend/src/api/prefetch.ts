// Requests started before the screen that needs them is ready (the editor's code is
// still loading, the session still being checked), so the two wait at the same time
// rather than one after the other. A screen takes a prefetched answer once; a prefetch
// that failed (e.g. before signing in) is simply asked again.
const started = new Map<string, Promise<unknown>>()

export function prefetch<T>(key: string, request: () => Promise<T>): void {
  if (!started.has(key)) started.set(key, request().catch(() => undefined))
}

/** The prefetched answer for `key` if there is a good one, else a new `request()`. */
export async function take<T>(key: string, request: () => Promise<T>): Promise<T> {
  const early = started.get(key)
  started.delete(key)
  const answer = early ? ((await early) as T | undefined) : undefined
  return answer === undefined ? request() : answer
}
