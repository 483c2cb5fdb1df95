// A SQL test for "this column holds a value of the legacy sealed format", for the re-seal
// migration's batches. substring() rather than get_byte(): it is safe on an empty value.
import { sql, type RawBuilder } from 'kysely';
import { SEALED_FORMAT_V1 } from '../crypto/envelope.ts';

const LEGACY_FORMAT_BYTE = Buffer.from([SEALED_FORMAT_V1]);

/** True where `column` (a bytea) starts with the legacy format byte; null where it is null. */
export function isLegacySealed(column: string): RawBuilder<boolean> {
  return sql<boolean>`(substring(${sql.ref(column)} from 1 for 1) = ${LEGACY_FORMAT_BYTE})`;
}
