// Requests started before the screen that needs them is ready (the editor's code is
// still loading, the session still being checked), so the two wait at the same time
// rather than one after the other. A screen takes a prefetched answer once; a prefetch
// that failed (e.g. before signing in) is asked again by the screen, which shows that
// request's failure if it fails too.
type Outcome<T> = { value: T } | { failed: unknown }

const started = new Map<string, Promise<Outcome<unknown>>>()

export function prefetch<T>(key: string, request: () => Promise<T>): void {
  if (started.has(key)) return
  started.set(
    key,
    request().then(
      (value) => ({ value }),
      (failed: unknown) => ({ failed }),
    ),
  )
}

/** The prefetched answer for `key` if there is a good one, else a new `request()`. */
export async function take<T>(key: string, request: () => Promise<T>): Promise<T> {
  const early = started.get(key)
  started.delete(key)
  const outcome = early ? await early : null
  return outcome && 'value' in outcome ? (outcome.value as T) : request()
}
