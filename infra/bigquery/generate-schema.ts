/**
 * Writes infra/bigquery/schema.json from core/bench/schema.ts (BENCHMARK_COLUMNS), the table schema
 * the BigQuery sink creates. Use it to create the table by hand:
 *   bq mk --table \
 *     PROJECT:DATASET.TABLE infra/bigquery/schema.json
 * Run: npx tsx infra/bigquery/generate-schema.ts   (test/unit/config/bigquery-schema.test.ts checks it is current)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bigQuerySchemaFields } from '../../core/bench/bigquery';

export const SCHEMA_JSON_PATH = join(__dirname, 'schema.json');

export function renderSchemaJson(): string {
  return JSON.stringify(bigQuerySchemaFields(), null, 2) + '\n';
}

if (require.main === module) {
  writeFileSync(SCHEMA_JSON_PATH, renderSchemaJson());
  process.stdout.write(`wrote ${SCHEMA_JSON_PATH} (${bigQuerySchemaFields().length} columns)\n`);
}
