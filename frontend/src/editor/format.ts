// Small display helpers shared by the canvas and the panels.

const ICONS: Record<string, string> = {
  play: '▶',
  clock: '◷',
  globe: '◍',
  pencil: '✎',
  merge: '⋈',
  route: '⇶',
  split: '⋔',
  flag: '⚑',
  'x-octagon': '✕',
  'arrow-right': '→',
  layers: '❐',
  repeat: '↻',
  bot: '✦',
  tags: '#',
  braces: '{}',
  code: '</>',
  plug: '⌁',
}
const CATEGORY_ICONS: Record<string, string> = { triggers: '▶', data: '{}', flow: '⇢', network: '◍', ai: '✦' }
export const CATEGORY_ORDER = ['triggers', 'data', 'flow', 'network', 'ai']

export function iconFor(icon: string | null | undefined, category: string | undefined): string {
  return (icon && ICONS[icon]) || CATEGORY_ICONS[category ?? ''] || '◆'
}

export function categoryLabel(category: string): string {
  return category === 'ai' ? 'AI' : category.charAt(0).toUpperCase() + category.slice(1)
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return ''
  if (ms < 1) return '<1 ms'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

export const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)
export const MOD = isMac ? '⌘' : 'Ctrl'
