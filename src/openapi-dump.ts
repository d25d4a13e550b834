// Prints the OpenAPI document (npm run openapi → docs/openapi.json). Builds the server without
// touching the database: the pool connects lazily and no request is made.
import { loadConfig } from './config.js';
import { useValidationMessages } from './validation-messages.js';
import { buildDeps, buildWeb, closeDeps } from './app.js';

export async function openapiDocument(): Promise<unknown> {
  useValidationMessages();
  // Placeholders: nothing is signed or queried while the document is built.
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const deps = buildDeps({ ...config, databaseUrl: 'postgres://127.0.0.1:1/openapi-dump', secret: 'openapi-dump' });
  const app = await buildWeb(deps);
  await app.ready();
  const doc = app.swagger();
  await app.close();
  await closeDeps(deps);
  return doc;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await openapiDocument(), null, 2)}\n`);
}
