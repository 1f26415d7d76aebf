import { Type } from '@sinclair/typebox';
import { problem, problemSchema, problemSlugs, problemTypes, problemUri, type ProblemType } from '../problems.ts';
import type { Route } from '../router.ts';
import { ProblemTypeDoc, ProblemTypeList } from '../schemas.ts';

/** What each problem `type` URI resolves to: its status, title, documentation, body schema and headers. */
const docs = new Map(problemSlugs.map((slug) => {
  const t: ProblemType = problemTypes[slug];
  const doc = { type: problemUri(slug), title: t.title, status: t.status, description: t.about,
    schema: JSON.parse(JSON.stringify(problemSchema(slug))), headers: [...(t.headers ?? [])] };
  return [slug as string, doc];
}));

/** Every problem `type` resolves: GET /problems/<slug> documents it (public, like the errors it explains). */
export function problemRoutes(): Route[] {
  return [
    { method: 'get', pattern: '/problems', operationId: 'listProblemTypes', summary: 'Every problem type the API answers with', tag: 'problems',
      access: 'public', responses: { 200: { description: 'the problem types', schema: ProblemTypeList } },
      handler: async () => ({ status: 200, body: { items: [...docs.values()] } }) },
    { method: 'get', pattern: '/problems/:slug', operationId: 'getProblemType', summary: "A problem type's documentation (what its `type` URI names)",
      tag: 'problems', access: 'public', params: { slug: Type.String({ enum: problemSlugs }) },
      responses: { 200: { description: 'the problem type', schema: ProblemTypeDoc } }, problems: ['not-found'],
      handler: async (req) => {
        const doc = docs.get(req.params[0]!);
        return doc ? { status: 200, body: doc } : problem('not-found', `no problem type ${req.params[0]!.slice(0, 64)}`);
      } },
  ];
}
