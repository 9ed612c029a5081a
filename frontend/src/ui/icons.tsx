// The few icons that are not text: drawn inline, since emoji fonts are not everywhere.

export function PinIcon({ size = 12 }: { size?: number }) {
  return (
    <svg className="icon-svg" width={size} height={size} viewBox="0 0 16 16" aria-hidden="true">
      <path d="M10.5 1.5 14.5 5.5 12 6.5 9.5 9 9.5 12.5 8 14 5.5 10.5 2 14 2 14 5.5 10.5 2 8 3.5 6.5 7 6.5 9.5 4Z" fill="currentColor" />
    </svg>
  )
}

export function LockIcon({ size = 12 }: { size?: number }) {
  return (
    <svg className="icon-svg" width={size} height={size} viewBox="0 0 16 16" aria-hidden="true">
      <rect x="3" y="7" width="10" height="7" rx="1.5" fill="currentColor" />
      <path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  )
}
