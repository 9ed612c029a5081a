/** What went wrong, above what it concerns; nothing when nothing did. */
export function ErrorBanner({ error }: { error: string | null }) {
  if (!error) return null
  return (
    <div className="banner error" role="alert">
      {error}
    </div>
  )
}
