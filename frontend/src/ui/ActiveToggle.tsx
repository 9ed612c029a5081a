// The switch that activates a workflow (arms its triggers) or deactivates it.
interface Props {
  active: boolean
  busy?: boolean
  label: string
  onChange: (active: boolean) => void
}

export function ActiveToggle({ active, busy, label, onChange }: Props) {
  return (
    <label className={`switch${active ? ' on' : ''}`} title={active ? 'Active: its triggers are armed. Click to deactivate' : 'Inactive: click to arm its triggers (webhook, schedule, MQTT, email)'}>
      <input type="checkbox" role="switch" aria-label={label} checked={active} disabled={busy} onChange={(event) => onChange(event.target.checked)} />
      <span className="switch-track" aria-hidden="true" />
      <span className="switch-text">{active ? 'Active' : 'Inactive'}</span>
    </label>
  )
}
