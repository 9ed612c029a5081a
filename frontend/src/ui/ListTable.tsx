import type { ReactNode } from 'react'

interface Props<T> {
  /** null while the list is read: nothing is shown yet. */
  items: T[] | null
  /** The header cells ('' for one without a name: the row's actions). */
  columns: string[]
  /** The table's accessible name. */
  label?: string
  /** Said when the list is empty; nothing is shown when not given. */
  empty?: ReactNode
  /** One `<tr>` (with its key) for an item. */
  row: (item: T) => ReactNode
}

/** A list page's table, one row an item, with what it says while the list is read (nothing)
 * and when it is empty. */
export function ListTable<T>({ items, columns, label, empty, row }: Props<T>) {
  if (!items) return null
  if (!items.length) return empty ? <div className="empty">{empty}</div> : null
  return (
    <table className="list" aria-label={label}>
      <thead>
        <tr>
          {columns.map((column, index) => (
            <th key={index}>{column}</th>
          ))}
        </tr>
      </thead>
      <tbody>{items.map((item) => row(item))}</tbody>
    </table>
  )
}
