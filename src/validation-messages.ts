// Plain-English validation messages for every zod schema in the process (field names are added by
// the error handler): "is required", "must be one of send, full", … Every entry point (src/main.ts,
// the CLI, the OpenAPI dump, the tests' setup) calls useValidationMessages first, so the API, the
// worker, config errors and the CLI say the same thing.
import { z } from 'zod';

type Issue = z.core.$ZodRawIssue;

function describe(iss: Issue): string | undefined {
  if (iss.input === undefined && (iss.code === 'invalid_type' || iss.code === 'invalid_value')) return 'is required';
  switch (iss.code) {
    case 'invalid_type':
      return `must be ${iss.expected === 'object' || iss.expected === 'record' ? 'an object' : iss.expected === 'array' ? 'an array' : `a ${iss.expected}`}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'string')
        return Number(iss.minimum) <= 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      if (iss.origin === 'array') return `must have at least ${iss.minimum} items`;
      return `must be at least ${iss.minimum}`;
    case 'too_big':
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      if (iss.origin === 'array') return `must have at most ${iss.maximum} items`;
      return `must be at most ${iss.maximum}`;
    case 'invalid_format':
      return iss.format === 'uuid'
        ? 'must be a UUID'
        : iss.format === 'email'
          ? 'must be an email address'
          : `must be a valid ${iss.format}`;
    default:
      return undefined;
  }
}

export function useValidationMessages(): void {
  z.config({ customError: (iss) => describe(iss) });
}
