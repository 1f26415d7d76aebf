import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { problemSchema, problemSlugs, problemTypes, problemUri, type ProblemSlug, type ProblemType } from './problems.ts';

const root = join(import.meta.dirname, '..');

/** The README's problem table row of a type, as problems.ts says it. */
function readmeRow(slug: ProblemSlug): string {
  const t: ProblemType = problemTypes[slug];
  const members = Object.keys(t.members ?? {}).map((m) => `\`${m}\``).join(', ');
  const headers = (t.headers ?? []).join(', ');
  return `| \`${problemUri(slug)}\` | ${t.status} | ${t.title} | ${members} | ${headers} | ${t.about} |`;
}

describe('problem types', () => {
  it('each has a status, a title and documentation, and a schema of its body', () => {
    for (const slug of problemSlugs) {
      const t: ProblemType = problemTypes[slug];
      expect(t.status, slug).toBeGreaterThanOrEqual(400);
      expect(t.about.length, slug).toBeGreaterThan(20);
      expect(problemSchema(slug).properties.type.const).toBe(`/problems/${slug}`);
    }
  });

  it('the README documents every type, as problems.ts says it (expected rows printed on failure)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `/problems/'));
    expect(rows.join('\n')).toBe(problemSlugs.map(readmeRow).join('\n'));
  });

  it('no code of the API writes a problem type but through problems.ts (so every type it can answer is in the table)', () => {
    const files = readdirSync(join(root, 'api'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'problems.ts');
    for (const file of files) expect(readFileSync(join(root, 'api', file), 'utf8'), file).not.toMatch(/['"`]\/problems\/[a-z]/);
  });
});
