import Table from 'cli-table3';

type Cell = string | number;

/** Columns are this many spaces apart. */
const gap = 2;
/** The last column is never wrapped narrower than this. */
const lastColumnMin = 24;

const borderless = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: ' '.repeat(gap),
};

/**
 * A table as `docker ps` prints one: a header row, columns two spaces apart, no
 * borders (greppable, and `--json` is there for scripts). On a terminal, a last
 * column that would not fit is wrapped to its width.
 */
export function table(head: string[], rows: Cell[][]): string {
  const text = rows.map((row) => row.map((cell) => String(cell)));
  const natural = head.map((h, i) => Math.max(h.length, ...text.map((row) => longestLine(row[i] ?? ''))));
  const columns = process.stdout.isTTY ? process.stdout.columns : 0;
  const widths = [...natural];
  const others = natural.slice(0, -1).reduce((a, b) => a + b + gap, 0);
  if (columns && others + natural.at(-1)! > columns) widths[widths.length - 1] = Math.max(lastColumnMin, columns - others);
  const t = new Table({
    head,
    chars: borderless,
    colWidths: widths,
    wordWrap: true,
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  t.push(...text);
  return t.toString().split('\n').map((line) => line.trimEnd()).filter((line) => line !== '').join('\n');
}

/** A two-column table of names and values. */
export function pairs(rows: Array<[string, Cell]>, head: [string, string] = ['', '']): string {
  return table(head, rows);
}

function longestLine(cell: string): number {
  return Math.max(...cell.split('\n').map((l) => l.length));
}
