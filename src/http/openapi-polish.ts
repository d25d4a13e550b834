// The last pass over the OpenAPI document, so that validators and code generators take it as it
// is: component schemas without the `$id`/`$schema` the zod conversion leaves (a relative `$id`
// such as "#/components/schemas/Agent" is refused by JSON Schema validators), an operationId for
// every operation, the server's URL, request bodies that are optional when no field is required
// (the API reads a missing body as {}), and the 413 and 415 every body can be answered with.

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON document
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** GET /v1/agents/{id}/activity → getAgentsByIdActivity: readable, unique per method and path. */
export function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((s) => s && s !== 'v1')
    .map((s) => (s.startsWith('{') ? `by_${s.slice(1, -1)}` : s))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const bodySchemaOf = (op: Json): Json | undefined => op.requestBody?.content?.['application/json']?.schema;

function polishOperation(method: string, path: string, op: Json, errorRef: Json): void {
  op.operationId ??= operationIdOf(method, path);
  if (!op.requestBody) return;
  const schema = bodySchemaOf(op);
  op.requestBody.required = Boolean(schema?.required?.length);
  op.responses ??= {};
  const error = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
  op.responses['413'] ??= error('The body is larger than this route takes (payload_too_large)');
  op.responses['415'] ??= error('The body is not JSON (unsupported_media_type)');
}

export function polishDocument(doc: Json, publicUrl: string): Json {
  for (const schema of Object.values<Json>(doc.components?.schemas ?? {})) {
    delete schema.$id;
    delete schema.$schema;
  }
  doc.servers = [{ url: publicUrl }];
  const errorRef = { $ref: '#/components/schemas/Error' };
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) if (item[method]) polishOperation(method, path, item[method], errorRef);
  }
  return doc;
}
