import { isValidElement, type ComponentChildren, type VNode } from 'preact';

/**
 * A column header: its label (a `<th scope="col">`), a label right-aligned over numbers, or a header cell of its
 * own (a sort control); `false` for a column not shown (one the user may not act on).
 */
export type Column = string | { label: string; numeric: true } | VNode | false;

/**
 * The console's tables, one markup for all: a caption for screen readers, column headers screen readers read
 * with each cell, one row per item (`row` starts it with its `<th scope="row">`), and `empty` across the whole
 * table when there is no item.
 */
export function DataTable<Item>({
  caption,
  columns,
  items,
  row,
  empty,
  testId,
}: {
  caption: ComponentChildren;
  columns: Column[];
  items: readonly Item[];
  row: (item: Item) => VNode;
  empty?: string;
  testId?: string;
}) {
  const shown = columns.filter((c) => c !== false);
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>{shown.map(header)}</tr>
        </thead>
        <tbody>
          {items.length === 0 && empty !== undefined && (
            <tr>
              <td colSpan={shown.length} class="muted">
                {empty}
              </td>
            </tr>
          )}
          {items.map(row)}
        </tbody>
      </table>
    </div>
  );
}

function header(column: Exclude<Column, false>) {
  if (isValidElement(column)) return column;
  if (typeof column === 'string') return <th scope="col">{column}</th>;
  return (
    <th scope="col" class="num">
      {column.label}
    </th>
  );
}
